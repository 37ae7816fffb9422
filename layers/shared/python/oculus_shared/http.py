"""HTTP helpers shared by every API function: the resolver with CORS and JSON error
envelopes, the caller's identity, and JSON answers.

Errors are always ``{"ok": false, "error": {"code", "message"}}`` (validation errors add
``fields``); nothing reaches API Gateway as a bare 500.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from .errors import ApiError, Unauthorized

JSON = "application/json"


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=JSON, body=json.dumps(body, default=str), headers=headers)


def ok(body: dict[str, Any] | None = None, status: int = 200) -> Response:
    return json_response(status, {"ok": True, **(body or {})})


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    return json_response(status, {"ok": False, "error": {"code": code, "message": message, **extra}})


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    fields = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        fields.append({"field": ".".join(loc), "message": str(err.get("msg", "invalid")), "type": err.get("type")})
    return fields


def build_resolver(logger: Logger, *, validation: bool = True) -> APIGatewayRestResolver:
    """A REST resolver with CORS for the web app and the error envelope.

    ``validation`` turns on Powertools' request validation (pydantic: 422 with field errors).
    A function whose routes take no parameters or body passes ``False`` and never imports
    pydantic on its cold start; its OpenAPI description is the same either way."""
    cors = CORSConfig(
        allow_origin=os.environ.get("ALLOWED_ORIGIN", "*"),
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Location"],
        max_age=600,
    )
    app = APIGatewayRestResolver(enable_validation=validation, cors=cors)

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        logger.info("request refused", extra={"error_code": exc.code, "status": exc.status})
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    def _validation_error(exc: RequestValidationError) -> Response:
        fields = _field_errors(exc)
        logger.info("request failed validation", extra={"fields": [f["field"] for f in fields]})
        return error_response(422, "validation_error", "the request is not valid", fields=fields)

    @app.exception_handler(json.JSONDecodeError)
    def _bad_json(exc: json.JSONDecodeError) -> Response:
        return error_response(400, "invalid_json", "the request body is not valid JSON")

    @app.not_found
    def _no_route(exc: Exception) -> Response:
        return error_response(404, "route_not_found", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unexpected error")
        return error_response(500, "internal_error", "an unexpected error occurred")

    return app


def caller_id(app: APIGatewayRestResolver) -> str:
    """The Cognito ``sub`` from the authorizer; never anything the client sent."""
    authorizer = app.current_event.request_context.authorizer
    claims = (authorizer.get("claims") if authorizer else None) or {}
    sub = claims.get("sub") if isinstance(claims, dict) else None
    if not sub:
        raise Unauthorized("the request carries no authenticated user")
    return str(sub)
