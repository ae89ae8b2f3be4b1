"""The widget's own files: /widget.js (loader on the host page), /widget/* assets, /embed (iframe)."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import rjsmin
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import csp, i18n, resources
from ..errors import NotFound
from ..services import services
from .common import query_param, render
from .discovery import site_locales

# The panel's languages (a catalog each in static/widget/i18n); right to left: i18n.RTL.
LOCALES = i18n.ui_locales()
RTL = i18n.RTL
MODES = ("self-service", "neutral", "ask-first")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".json": "application/json"}


@cache
def _asset(path: Path, mtime: float) -> tuple[bytes, str]:
    """The file as served: scripts without their comments and indentation (rjsmin), which
    visitors download on every site; the sources stay readable in the repository."""
    data = path.read_bytes()
    if path.suffix == ".js":
        data = rjsmin.jsmin(data.decode("utf-8")).encode("utf-8")
    return data, hashlib.sha256(data).hexdigest()[:16]


def _serve(request: Request, path: Path, max_age: int) -> Response:
    if not path.is_file():
        raise NotFound("No such widget file")
    data, etag = _asset(path, path.stat().st_mtime)
    headers = {
        "etag": f'"{etag}"',
        "cache-control": f"public, max-age={max_age}",
        "access-control-allow-origin": "*",  # the loader is a public script, like any CDN asset
        "cross-origin-resource-policy": "cross-origin",
    }
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Response(data, media_type=media_type, headers=headers)


async def loader(request: Request) -> Response:
    # Short cache: site owners paste a fixed URL and should get fixes within minutes.
    return _serve(request, resources.widget_dir() / "loader.js", max_age=300)


def _inside(root: Path, name: str) -> Path:
    root = root.resolve()
    path = (root / name).resolve()
    if root not in path.parents or path.suffix not in _TYPES:
        raise NotFound("No such file")
    return path


async def asset(request: Request) -> Response:
    return _serve(request, _inside(resources.widget_dir(), request.path_params["name"]), 3600)


def strings(locale: str) -> dict[str, str]:
    """The panel's strings in `locale` as shipped (English where a catalog has none)."""
    return i18n.panel_strings(locale)


def pick_locale(raw: str, available: Iterable[str] = LOCALES, fallback: str = "en") -> str:
    """The language the panel speaks: the tag asked for (`pt-br`) if the site has it, else
    its language (`pt`), else `fallback` (the site's default language)."""
    code = i18n.normalize(raw)
    known = set(available)
    for candidate in (code, i18n.language(code)):
        if candidate in known:
            return candidate
    return fallback if fallback in known else "en"


def asset_version() -> str:
    files = [resources.widget_dir() / n for n in ("panel.js", "panel.css")]
    digest = hashlib.sha256()
    for path in files:
        if path.is_file():
            digest.update(_asset(path, path.stat().st_mtime)[1].encode())
    return digest.hexdigest()[:12]


async def embed(request: Request) -> Response:
    settings = services(request).settings
    # The panel speaks the languages it has a catalog for, those the owner wrote strings
    # for, and those the knowledge base has articles in (English words around them).
    available = {*LOCALES, *settings.strings, *site_locales(
        services(request).search.live_catalog, settings.default_locale)}
    locale = pick_locale(query_param(request, "locale", "", max_length=35), available,
                         settings.default_locale)
    mode = query_param(request, "mode", "self-service", max_length=20)
    context: dict[str, Any] = {
        "site": query_param(request, "site", "default", max_length=100),
        "locale": locale,
        "mode": mode if mode in MODES else "self-service",
        "dir": i18n.direction(locale),
        "strings": i18n.panel_strings(locale, settings.strings),
        "asset_version": asset_version(),
        "nps": settings.nps_enabled,
    }
    response = render(request, "embed.html", context)
    response.headers["content-security-policy"] = csp.embed(tuple(settings.allowed_origins))
    response.headers["cache-control"] = "no-store"
    return response


async def site_css(request: Request) -> Response:
    return _serve(request, _inside(resources.PACKAGE_DIR / "static", request.path_params["name"]), 3600)


ROUTES = [
    Route("/widget.js", loader, methods=["GET"]),
    Route("/widget/{name:path}", asset, methods=["GET"], name="widget_asset"),
    Route("/embed", embed, methods=["GET"]),
    Route("/static/{name:path}", site_css, methods=["GET"], name="static"),
]
