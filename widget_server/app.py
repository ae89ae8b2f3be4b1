"""create_app(settings) -> Starlette: services on app.state, routes, middleware, error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.templating import Jinja2Templates

from . import resources
from .errors import DeskbellError, error_body
from .events import EventStore
from .middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from .search import SearchService, Synonyms, current_generation
from .settings import Settings, load_settings
from .tickets import open_ticket_store

log = logging.getLogger("deskbell")


def make_templates(settings: Settings) -> Jinja2Templates:
    # Operators may override any template by dropping a file of the same name in <data>/templates.
    loader = ChoiceLoader([
        FileSystemLoader(str(settings.data_dir / "templates")),
        FileSystemLoader(str(resources.TEMPLATES_DIR)),
    ])
    env = Environment(loader=loader, autoescape=select_autoescape(default=True, default_for_string=True))
    env.globals["site_name"] = settings.site_name
    # tojson keeps its HTML escaping either way; without \uXXXX escapes a catalog in Arabic
    # is less than half the bytes in the widget's page.
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    return Jinja2Templates(env=env)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in {"/healthz", "/openapi.json"}


def _render_error(request: Request, status: int, code: str, message: str, details: Any = None,
                  headers: dict[str, str] | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse(error_body(status, code, message, details), status, headers=headers)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status,
        headers=headers,
    )


async def _deskbell_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DeskbellError)
    return _render_error(request, exc.status, exc.code, exc.message, exc.details, exc.headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 413: "payload_too_large"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
    return _render_error(request, exc.status_code, code, message, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _render_error(request, 500, "internal_error", "Something went wrong on our side.")


class ResilientSearch(SearchService):
    """A SearchService that survives an unreadable index generation: search answers 503
    (run deskbell reindex) instead of the server failing to start, and the next good
    generation is picked up as usual."""

    _broken: str | None = None

    def refresh(self, force: bool = False) -> None:
        try:
            super().refresh(force)
        except Exception as exc:  # whatever a damaged Whoosh or catalog file raises
            name = current_generation(self.index_dir)
            if name != self._broken:  # log once per generation, not once per request
                log.error("search index %s/%s is unreadable (%s); run deskbell reindex --full",
                          self.index_dir, name, exc)
                self._broken = name


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    from .routes import all_routes  # routes import app helpers; keep the cycle one-way

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        app.state.search.close()

    app = Starlette(
        routes=all_routes(),
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        exception_handlers={
            DeskbellError: _deskbell_error, HTTPException: _http_error, 500: _server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.templates = make_templates(settings)
    synonyms_path = settings.synonyms_file or None
    app.state.search = ResilientSearch(settings.index_dir, Synonyms.load(synonyms_path),
                                       semantic=settings.semantic,
                                       threshold=settings.answer_threshold)
    app.state.events = EventStore.from_settings(settings)
    # Opening checks the store: a corrupt file stops the server with the file and the fix.
    app.state.tickets = open_ticket_store(settings)
    return app


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory widget_server.app:app_from_env` (workers, reload)."""
    return create_app(load_settings())


__all__ = ["HTMLResponse", "app_from_env", "create_app"]
