"""POST /upload and POST /upload/{jobId}/complete."""

from typing import Annotated

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from oculus_shared import service
from oculus_shared.http import build_resolver, caller_id, limited_responses, respond
from oculus_shared.models import CompleteUploadRequest, UploadRequest
from oculus_shared.responses import JobAnswer, UploadCreated
from oculus_shared.tracing import make_tracer
from oculus_shared.wiring import backend, job_id_from_path

logger = Logger()
tracer = make_tracer()  # no X-Ray SDK import unless tracing is on
metrics = Metrics()
app = build_resolver(logger)


@app.post("/upload", summary="Create a job and get upload URLs (or upload a small file inline)", status_code=201,
          responses=limited_responses(201, UploadCreated, "The job and how to upload its file"))
@tracer.capture_method
def create_upload(request: Annotated[UploadRequest, Body()]) -> Response[UploadCreated]:
    answer = service.create_upload(backend(), caller_id(app), request.filename, request.size, request.file)
    metrics.add_metric(name="JobsCreated", unit=MetricUnit.Count, value=1)
    if answer["upload"]["method"] == "inline":
        metrics.add_metric(name="UploadBytes", unit=MetricUnit.Bytes, value=answer["job"]["input"]["size"])
    logger.append_keys(job_id=answer["jobId"])
    return respond(answer, status=201)


@app.post("/upload/<jobId>/complete", summary="Finish an upload: check size and content, mark it uploaded")
@tracer.capture_method
def complete_upload(  # noqa: N803
    jobId: str, request: Annotated[CompleteUploadRequest | None, Body()] = None
) -> Response[JobAnswer]:
    logger.append_keys(job_id=jobId)
    parts = [p.model_dump() for p in request.parts] if request and request.parts else None
    job, completed_now = service.complete_upload(backend(), caller_id(app), job_id_from_path(jobId), parts)
    if completed_now:
        metrics.add_metric(name="UploadBytes", unit=MetricUnit.Bytes, value=job.input.get("size", 0))
    return respond({"ok": True, "job": job.public_view()})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
