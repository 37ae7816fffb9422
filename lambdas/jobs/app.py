"""GET /jobs, GET /jobs/{jobId}, GET /files/{jobId}/{filename} (and .../stl/{filename}),
DELETE /jobs/{jobId}."""

from typing import Annotated, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from oculus_shared import service
from oculus_shared.http import JSON, build_resolver, caller_id, respond
from oculus_shared.responses import FileUrl, JobAnswer, JobDeleted, JobList
from oculus_shared.tracing import make_tracer
from oculus_shared.wiring import backend, job_id_from_path

logger = Logger()
tracer = make_tracer()  # no X-Ray SDK import unless tracing is on
metrics = Metrics()
app = build_resolver(logger)

ListedStatus = Literal["uploading", "uploaded", "queued", "processing", "completed", "failed"]


@app.get("/jobs", summary="The caller's jobs, newest first")
@tracer.capture_method
def list_jobs(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    status: Annotated[ListedStatus | None, Query()] = None,
) -> Response[JobList]:
    return respond(service.list_jobs(backend(), caller_id(app), limit, cursor, status))


@app.get("/jobs/<jobId>", summary="One job: status, progress, result, files")
@tracer.capture_method
def get_job(jobId: str) -> Response[JobAnswer]:  # noqa: N803
    logger.append_keys(job_id=jobId)
    return respond({"ok": True, "job": service.job_view(backend(), caller_id(app), job_id_from_path(jobId))})


def _redirect(job_id: str, name: str, redirect: bool) -> Response[FileUrl] | Response[str]:
    logger.append_keys(job_id=job_id)
    url = service.file_url(backend(), caller_id(app), job_id_from_path(job_id), name)
    if not redirect:  # for fetch() callers that want the URL rather than a redirect
        body: FileUrl = {"ok": True, "url": url, "expiresIn": backend().settings.download_url_ttl_seconds}
        return respond(body)
    return Response(status_code=302, headers={"Location": url}, body="")


#: a redirect, or with ``redirect=false`` the URL itself (declared here: the answer is either)
FILE_RESPONSES = {
    302: {"description": "Redirect to the presigned download URL", "content": {},
          "headers": {"Location": {"schema": {"type": "string"}}}},
    200: {"description": "With redirect=false: the download URL", "content": {JSON: {"model": FileUrl}}},
}


@app.get("/files/<jobId>/<filename>", summary="Redirect to a short-lived download URL of a result file",
         responses=FILE_RESPONSES)
@tracer.capture_method
def get_file(jobId: str, filename: str, redirect: Annotated[bool, Query()] = True):  # noqa: N803
    return _redirect(jobId, filename, redirect)


@app.get("/files/<jobId>/stl/<filename>", summary="Redirect to a short-lived download URL of an STL file",
         responses=FILE_RESPONSES)
@tracer.capture_method
def get_stl_file(jobId: str, filename: str, redirect: Annotated[bool, Query()] = True):  # noqa: N803
    return _redirect(jobId, f"stl/{filename}", redirect)


@app.delete("/jobs/<jobId>", summary="Delete a job and its files")
@tracer.capture_method
def delete_job(jobId: str) -> Response[JobDeleted]:  # noqa: N803
    logger.append_keys(job_id=jobId)
    return respond(service.delete_job(backend(), caller_id(app), job_id_from_path(jobId)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
