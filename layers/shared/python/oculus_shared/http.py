"""HTTP helpers shared by every API function: the resolver with CORS and JSON error
envelopes, the caller's identity, and JSON answers.

Errors are always ``{"ok": false, "error": {"code", "message"}}`` (validation errors add
``fields``); nothing reaches API Gateway as a bare 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from http import HTTPStatus
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from .errors import ApiError, Unauthorized

JSON = "application/json"
BodyT = TypeVar("BodyT")


def limited_responses(status: int, model: Any, description: str) -> dict[int, dict[str, Any]]:
    """OpenAPI answers of a route guarded by a per-user limit (``errors.TooManyRequests``): its
    success, and the 429 with Retry-After. (Declared answers replace Powertools' default one.)"""
    return {
        status: {"description": description, "content": {JSON: {"model": model}}},
        429: {"description": "Over a per-user limit: wait Retry-After seconds",
              "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}},
    }


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=JSON, body=json.dumps(body, default=str), headers=headers)


def respond(body: BodyT, status: int = 200) -> Response[BodyT]:
    """A JSON answer whose body Powertools serializes, after checking it against the route's
    declared response (``responses``) in the functions that validate."""
    return Response(status_code=status, content_type=JSON, body=body)


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    return json_response(status, {"ok": False, "error": {"code": code, "message": message, **extra}})


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def body_refusal(event: dict[str, Any]) -> tuple[int, str, str] | None:
    """(status, code, message) for a request body that is not JSON, before any route sees it.

    A body sent as another media type is a 415 and one that does not parse a 400
    ``invalid_json``; left to request validation these come out as 422s, or as 500s where a
    gateway hands the body over base64-encoded. A request without a Content-Type is read as JSON.
    """
    body = event.get("body")
    if event.get("httpMethod") not in _BODY_METHODS or body in (None, ""):
        return None
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media = headers.get("content-type", JSON).split(";")[0].strip().lower()
    if media != JSON and not media.endswith("+json"):
        return 415, "unsupported_media_type", "send the request body as application/json"
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body
        json.loads(raw)
    except (ValueError, binascii.Error):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return 400, "invalid_json", "the request body is not valid JSON"
    return None


class _JsonApiResolver(APIGatewayRestResolver):
    """Refuses a body that is not JSON (``body_refusal``) with the error envelope and CORS."""

    def resolve(self, event: Any, context: Any) -> dict[str, Any]:
        refusal = body_refusal(event) if isinstance(event, dict) else None
        if refusal is None:
            return super().resolve(event, context)
        headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        answer = error_response(*refusal)
        answer.headers.update(self._cors.to_dict(headers.get("origin")) if self._cors else {})
        return {"statusCode": answer.status_code, "headers": answer.headers, "body": answer.body,
                "isBase64Encoded": False}


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
    pydantic on its cold start; its OpenAPI description is the same either way. With
    validation, answers are checked against the routes' declared responses too, and one that
    does not fit is a bug: logged, and a 500."""
    cors = CORSConfig(
        allow_origin=os.environ.get("ALLOWED_ORIGIN", "*"),
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Location", "Retry-After"],
        max_age=600,
    )
    app = _JsonApiResolver(
        enable_validation=validation,
        cors=cors,
        response_validation_error_http_code=HTTPStatus.INTERNAL_SERVER_ERROR if validation else None,
    )

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        logger.info("request refused", extra={"error_code": exc.code, "status": exc.status})
        response = error_response(exc.status, exc.code, exc.message)
        retry_after = getattr(exc, "retry_after", None)  # a per-user limit (TooManyRequests)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

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
