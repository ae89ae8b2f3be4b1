"""Helpers every route module shares: strict JSON bodies, query parameters, the caller's origin,
and the one way a page is rendered."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from ..errors import (
    BadRequest,
    Forbidden,
    IndexUnavailable,
    UnsupportedMediaType,
)
from ..events import SESSION_PROBLEM, is_session
from ..queries import normalize_query
from ..search import SearchResult, SearchService
from ..services import services

MAX_JSON_DEPTH = 20


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a precise 400/415 error."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("Send the body as JSON with Content-Type: application/json")
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("The request body is empty; expected a JSON object")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise BadRequest("The JSON body starts with a byte-order mark; send plain UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8") from None
    return json_object(text)


def json_object(text: str, what: str = "The request body") -> dict[str, Any]:
    """`text` as a JSON object (no NaN or Infinity, not nested too deeply), or a 400 that
    names `what` was sent: the body, or a multipart upload's json part."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"{what} must be a JSON object")
    if _depth(data) > MAX_JSON_DEPTH:
        raise BadRequest("The JSON body is nested too deeply")
    return data


def query_param(request: Request, name: str, default: str = "", max_length: int = 2000) -> str:
    # Repeated parameters: the first one wins, always.
    values = request.query_params.getlist(name)
    value = values[0] if values else default
    if len(value) > max_length:
        raise BadRequest(f"Parameter {name} is longer than {max_length} characters")
    return value


def bool_param(request: Request, name: str) -> bool:
    raw = query_param(request, name, "", max_length=5).strip().lower()
    if raw in {"", "0", "false"}:
        return False
    if raw in {"1", "true"}:
        return True
    raise BadRequest(f"Parameter {name} must be 1 or 0 (true or false)")


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = query_param(request, name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"Parameter {name} must be a whole number") from None
    if not lo <= value <= hi:
        raise BadRequest(f"Parameter {name} must be between {lo} and {hi}")
    return value


def own_origin(request: Request) -> str:
    settings = services(request).settings
    if settings.public_url:
        parts = urlsplit(settings.public_url)
        return f"{parts.scheme}://{parts.netloc}".lower()
    return f"{request.url.scheme}://{request.url.netloc}".lower()


def check_origin(request: Request) -> None:
    """Refuse writes from pages that are not ours or an allowed site, whatever the content type."""
    origin = request.headers.get("origin")
    if origin is None:
        return  # not a browser cross-site request (CLI, server-to-server)
    allowed = set(services(request).settings.allowed_origins) | {own_origin(request)}
    if origin.lower() not in allowed:
        raise Forbidden(f"Origin {origin} is not allowed to use this endpoint")


def session_param(request: Request) -> str | None:
    """The caller's help session (`session`), None when there is none."""
    value = query_param(request, "session", max_length=40)
    if not value:
        return None
    if not is_session(value):
        raise BadRequest(f"Parameter session {SESSION_PROBLEM}")
    return value


def record_search(request: Request, session: str | None, q: str, result: SearchResult,
                  locale: str, instant: bool = False) -> None:
    """Note an answered search for the insights (events/recorder.py; no I/O here)."""
    answer = result.answer.slug if result.answer is not None else ""
    services(request).searches.record(session, normalize_query(q), result.total,
                                      confidence=result.confidence, answer=answer,
                                      locale=locale, instant=instant)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def search_service(request: Request) -> SearchService:
    """The search service, or a 503 that names the fix when no index generation is readable."""
    service = services(request).search
    if not service.ready():
        raise IndexUnavailable("Search is not available yet: run deskbell reindex to build the "
                               "search index")
    return service


def render(request: Request, name: str, context: dict[str, Any], status: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    """The template `name` (the operator's override first) as an HTML response."""
    return services(request).templates.TemplateResponse(request, name, context,
                                                        status_code=status, headers=headers)
