"""Typed errors of the backend: each has a stable ``code`` (part of the API contract) and
the HTTP status the API answers with. Handlers turn them into ``{ok: false, error: {...}}``."""

from __future__ import annotations


class ApiError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class BadRequest(ApiError):
    code = "bad_request"
    status = 400


class Unauthorized(ApiError):
    code = "unauthorized"
    status = 401


class NotFound(ApiError):
    code = "not_found"
    status = 404


class Conflict(ApiError):
    code = "conflict"
    status = 409


class Unprocessable(ApiError):
    code = "invalid_input"
    status = 422


class PayloadTooLarge(ApiError):
    code = "file_too_large"
    status = 413


class TooManyRequests(ApiError):
    """A user over a per-user limit; ``retry_after`` (seconds) becomes the Retry-After header."""

    code = "limit_reached"
    status = 429

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, int(retry_after))


class ServiceUnavailable(ApiError):
    code = "service_unavailable"
    status = 503


class InvalidTransition(Conflict):
    """A job state change that is not allowed from the job's current state."""

    code = "invalid_state"
