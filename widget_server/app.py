"""create_app(settings) -> Starlette: the Services (services.py), routes, middleware, errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from .errors import DeskbellError, error_body
from .middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from .routes import all_routes
from .routes.attachments import UPLOAD_PATHS, upload_limit
from .routes.common import render
from .services import build_services
from .settings import Settings, load_settings

log = logging.getLogger("deskbell")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in {"/healthz", "/openapi.json"}


def _render_error(request: Request, status: int, code: str, message: str, details: Any = None,
                  headers: dict[str, str] | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse(error_body(status, code, message, details), status, headers=headers)
    return render(request, "error.html", {"status": status, "message": message}, status,
                  headers)


async def _deskbell_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DeskbellError)
    return _render_error(request, exc.status, exc.code, exc.message, exc.details, exc.headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 413: "payload_too_large"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
    headers = dict(exc.headers) if exc.headers else None
    return _render_error(request, exc.status_code, code, message, headers=headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _render_error(request, 500, "internal_error", "Something went wrong on our side.")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    built = build_services(settings)  # everything opened and checked before any request

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        built.close()

    app = Starlette(
        routes=all_routes(),
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       uploads=(UPLOAD_PATHS, upload_limit(settings))),
        ],
        exception_handlers={
            DeskbellError: _deskbell_error, HTTPException: _http_error, 500: _server_error,
        },
        lifespan=lifespan,
    )
    app.state.services = built
    return app


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory widget_server.app:app_from_env` (workers, reload)."""
    return create_app(load_settings())


__all__ = ["HTMLResponse", "app_from_env", "create_app"]
