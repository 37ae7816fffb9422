"""POST /process/totalseg and POST /process/classify.

A repeated identical request (same user, job, task and options) inside the idempotency window
is answered from the idempotency record and never starts a second GPU job; a different
request for a job that is already queued is refused by the job's conditional write.
"""

from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from oculus_shared import service
from oculus_shared.config import settings
from oculus_shared.http import build_resolver, caller_id, error_response, limited_responses, respond
from oculus_shared.jobs import Task
from oculus_shared.models import ClassifyRequest, TotalsegRequest
from oculus_shared.responses import ProcessAccepted
from oculus_shared.tracing import make_tracer
from oculus_shared.wiring import backend, job_id_from_path

logger = Logger()
tracer = make_tracer()  # no X-Ray SDK import unless tracing is on
metrics = Metrics()
app = build_resolver(logger)
_context: dict[str, Any] = {}  # the current invocation's LambdaContext (idempotency needs it)


@lru_cache(maxsize=1)
def idempotent_start() -> Callable[..., ProcessAccepted]:
    """Built on the first process request, not at import: Powertools' idempotency package
    imports boto3 and its persistence layer creates a client, which only a request needs
    (the handler's other answers, e.g. a 422, never touch them)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
    )

    s = settings()
    if not s.idempotency_table_name:
        raise RuntimeError("IDEMPOTENCY_TABLE_NAME is not set")
    config = IdempotencyConfig(expires_after_seconds=s.idempotency_ttl_seconds)
    persistence = DynamoDBPersistenceLayer(table_name=s.idempotency_table_name)
    app.exception_handler(IdempotencyAlreadyInProgressError)(_in_progress)

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=config)
    def start(request: dict[str, Any]) -> ProcessAccepted:
        answer = service.start_processing(
            backend(), request["owner"], request["jobId"], Task(request["task"]), request["options"]
        )
        metrics.add_metric(name="JobsQueued", unit=MetricUnit.Count, value=1)
        return answer

    def start_in_context(request: dict[str, Any]) -> ProcessAccepted:
        config.register_lambda_context(_context.get("context"))  # records expire before Lambda retries
        return start(request=request)

    return start_in_context


def _start(task: Task, job_id: str, options: dict[str, Any]) -> Response[ProcessAccepted]:
    logger.append_keys(job_id=job_id)
    request = {"owner": caller_id(app), "jobId": job_id_from_path(job_id), "task": task.value, "options": options}
    return respond(idempotent_start()(request=request), status=202)


@app.post("/process/totalseg", summary="Segment a CT/MR volume and build its 3D meshes", status_code=202,
          responses=limited_responses(202, ProcessAccepted, "The job is queued"))
@tracer.capture_method
def process_totalseg(request: Annotated[TotalsegRequest, Body()]) -> Response[ProcessAccepted]:
    return _start(Task.TOTALSEG, request.jobId, request.options())


@app.post("/process/classify", summary="Classify a brain MRI slice", status_code=202,
          responses=limited_responses(202, ProcessAccepted, "The job is queued"))
@tracer.capture_method
def process_classify(request: Annotated[ClassifyRequest, Body()]) -> Response[ProcessAccepted]:
    return _start(Task.CLASSIFY, request.jobId, request.options())


def _in_progress(exc: Exception):  # registered for IdempotencyAlreadyInProgressError by idempotent_start()
    return error_response(409, "request_in_progress", "the same request is already being handled")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    _context["context"] = context
    return app.resolve(event, context)
