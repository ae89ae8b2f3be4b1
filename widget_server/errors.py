"""Typed errors that carry an HTTP status and a stable code; rendered in one place (app.py).

Every JSON error body has one shape: {"error": {"code", "message", "details"}}.
"""

from __future__ import annotations

from typing import Any


class DeskbellError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details if details is not None else {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(DeskbellError):
    status, code = 400, "bad_request"


class Unauthorized(DeskbellError):
    status, code = 401, "unauthorized"


class Forbidden(DeskbellError):
    status, code = 403, "forbidden"


class NotFound(DeskbellError):
    status, code = 404, "not_found"


class Conflict(DeskbellError):
    status, code = 409, "conflict"


class PayloadTooLarge(DeskbellError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(DeskbellError):
    status, code = 415, "unsupported_media_type"


class ValidationFailed(DeskbellError):
    status, code = 422, "validation_failed"


class RateLimited(DeskbellError):
    status, code = 429, "rate_limited"


class StorageUnavailable(DeskbellError):
    status, code = 503, "storage_unavailable"


class IndexUnavailable(DeskbellError):
    status, code = 503, "index_unavailable"


class InsufficientStorage(DeskbellError):
    status, code = 507, "insufficient_storage"


def error_body(status: int, code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}
