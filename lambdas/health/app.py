"""GET /healthz (no auth: liveness and dependency checks), GET /model-info and GET /capabilities."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from oculus_shared import service
from oculus_shared.capabilities import engine_capabilities
from oculus_shared.http import JSON, build_resolver, caller_id, respond
from oculus_shared.responses import Capabilities, Health, ModelInfo
from oculus_shared.tracing import make_tracer
from oculus_shared.wiring import backend

logger = Logger()
tracer = make_tracer()  # no X-Ray SDK import unless tracing is on
metrics = Metrics()
app = build_resolver(logger, validation=False)  # no parameters or bodies: no pydantic

HEALTH_RESPONSES = {
    200: {"description": "Every dependency answered", "content": {JSON: {"model": Health}}},
    503: {"description": "A dependency failed (named in checks)", "content": {JSON: {"model": Health}}},
}


@app.get("/healthz", summary="Liveness and dependency checks (no authentication)", responses=HEALTH_RESPONSES)
@tracer.capture_method
def healthz() -> Response[Health]:
    report = service.health(backend())
    return respond(report, status=200 if report["ok"] else 503)


@app.get("/model-info", summary="The classifier served: name, version, classes, input, measured accuracy")
@tracer.capture_method
def model_info() -> Response[ModelInfo]:
    caller_id(app)
    return respond(service.model_info(backend()))


@app.get("/capabilities", summary="What the segmentation engine runs: TotalSegmentator's tasks and weights, as the engine published them at its last start")
@tracer.capture_method
def capabilities() -> Response[Capabilities]:
    caller_id(app)
    return respond(engine_capabilities(backend().blobs))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
