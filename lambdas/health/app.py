"""GET /healthz (no auth: liveness and dependency checks) and GET /model-info."""

import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from oculus_shared.aws import client, error_code
from oculus_shared.errors import ServiceUnavailable
from oculus_shared.http import build_resolver, caller_id, json_response, ok
from oculus_shared.keys import parse_s3_uri
from oculus_shared.tracing import make_tracer
from oculus_shared.wiring import backend

logger = Logger()
tracer = make_tracer()  # no X-Ray SDK import unless tracing is on
metrics = Metrics()
app = build_resolver(logger, validation=False)  # no parameters or bodies: no pydantic


def _check(name: str, probe: Any) -> dict[str, Any]:
    try:
        return {"ok": True, **(probe() or {})}
    except Exception as exc:  # a failed dependency is reported, not raised
        logger.warning("health check failed", extra={"check": name, "error_code": error_code(exc) or type(exc).__name__})
        return {"ok": False, "error": error_code(exc) or type(exc).__name__}


def _endpoint() -> dict[str, Any]:
    invoker = backend().invoker
    if invoker is None:
        raise RuntimeError("EndpointNotConfigured")
    state = invoker.endpoint_state()
    if not state["healthy"]:
        raise RuntimeError(state["status"])
    return state


@app.get("/healthz", summary="Liveness and dependency checks (no authentication)")
@tracer.capture_method
def healthz():
    b = backend()
    checks = {
        "table": _check("table", lambda: client("dynamodb").describe_table(TableName=b.settings.table_name) and None),
        "bucket": _check("bucket", lambda: b.blobs.reachable() and None),
        "endpoint": _check("endpoint", _endpoint),
    }
    healthy = all(c["ok"] for c in checks.values())
    return json_response(200 if healthy else 503, {"ok": healthy, "version": b.settings.app_version, "checks": checks})


def _read_card(uri: str) -> dict[str, Any]:
    if uri.startswith("s3://"):
        bucket, key = parse_s3_uri(uri)
        body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return json.loads(body)
    return json.loads(Path(uri).read_text())


@app.get("/model-info", summary="The classifier served: name, version, classes, input, measured accuracy")
@tracer.capture_method
def model_info():
    caller_id(app)
    uri = backend().settings.model_card_uri
    try:
        card = _read_card(uri) if uri else None
    except Exception as exc:
        logger.warning("model card unreadable", extra={"error_code": error_code(exc) or type(exc).__name__})
        card = None
    if not isinstance(card, dict):
        raise ServiceUnavailable("the model card is not available", code="model_card_unavailable")
    return ok({"models": [card]})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
