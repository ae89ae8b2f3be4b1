"""Public help-center pages (/kb/...), readable without JavaScript, and /healthz."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import i18n
from ..articles import in_language
from ..errors import NotFound
from ..services import Services, services
from ..settings import POSTGRES_SCHEMES
from .api import article_payload
from .common import query_param, record_search, render, search_service
from .discovery import absolute, article_head, hreflang_links, locale_home, site_locales
from .discovery import versions as article_versions

log = logging.getLogger("deskbell")


def page_language(request: Request, locale: str, versions: dict[str, str] | None = None
                  ) -> dict[str, Any]:
    """What every help-center page needs to speak `locale`: `lang` and `dir` for <html>, its
    strings (`t`, the owner's overrides included), the language switcher (`languages`: each
    language of the site, linking to this page's version in it, else that language's home)
    and the hreflang alternates (`versions`: {locale: path} of this very page)."""
    settings = services(request).settings
    default = settings.default_locale
    locales = site_locales(search_service(request).live_catalog, default)
    versions = versions if versions is not None else {
        loc: locale_home(loc, default) for loc in locales}
    languages = [{"code": loc, "name": i18n.language_name(loc),
                  "href": versions.get(loc) or locale_home(loc, default), "current": loc == locale}
                 for loc in locales] if len(locales) > 1 else []
    hreflang = [(loc, absolute(settings, path)) for loc, path in hreflang_links(versions, default)]
    return {"lang": locale, "dir": i18n.direction(locale),
            "t": i18n.strings(locale, settings.strings), "languages": languages,
            "hreflang": hreflang, "home": locale_home(locale, default),
            "search_locale": "" if locale == default else locale}


async def kb_index(request: Request, locale: str | None = None) -> Response:
    settings = services(request).settings
    locale = locale or settings.default_locale
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    service = search_service(request)
    catalog = await service.call(lambda: service.catalog)
    # Each article once, in this language when translated, else as the site writes it
    # (marked on the page with its language).
    shown = in_language(sorted(catalog.values(), key=lambda m: m["slug"]), catalog, locale,
                        settings.default_locale)
    for meta in shown:
        groups[meta["category"] or "General"].append(meta)
    categories = [
        (name, sorted(items, key=lambda m: m["title"].lower()))
        for name, items in sorted(groups.items(), key=lambda kv: kv[0].lower())
    ]
    return render(request, "kb/index.html", {"categories": categories,
                                             "language_name": i18n.language_name,
                                             **page_language(request, locale)})


async def kb_article(request: Request) -> Response:
    slug = request.path_params["slug"].strip("/")
    settings = services(request).settings
    service = search_service(request)
    payload = await service.call(article_payload, service, slug)
    if payload is None:
        code = i18n.normalize(slug)
        if code in site_locales(service.live_catalog, settings.default_locale):
            if code == settings.default_locale:
                return RedirectResponse("/kb/", status_code=301)
            if not request.url.path.endswith("/"):
                return RedirectResponse(locale_home(code, settings.default_locale), 301)
            return await kb_index(request, code)
        raise NotFound("There is no article at this address.")
    if "redirect_to" in payload:
        target = request.app.url_path_for("kb_article", slug=payload["redirect_to"])
        return RedirectResponse(str(target), status_code=301)
    head = article_head(settings, payload)
    locale = payload["locale"]
    paths = {loc: payload["url"] if loc == locale
             else str(request.app.url_path_for("kb_article", slug=other))
             for loc, other in article_versions(payload).items()}
    updated = i18n.format_day(payload["updated"], locale) if payload.get("updated") else ""
    return render(request, "kb/article.html", {
        "article": payload, "head": head, "updated": updated,
        "translations": [{"code": loc, "name": i18n.language_name(loc), "href": path}
                         for loc, path in sorted(paths.items()) if loc != locale],
        **page_language(request, locale, paths)})


async def kb_search(request: Request) -> Response:
    settings = services(request).settings
    q = query_param(request, "q", max_length=settings.query_max_length).strip()
    wanted = i18n.normalize(query_param(request, "locale", max_length=20))
    service = search_service(request)
    locales = site_locales(service.live_catalog, settings.default_locale)
    locale = wanted if wanted in locales else settings.default_locale
    search_in = None if len(locales) == 1 else locale  # one language: as before languages
    # A submitted form: the query is finished, so it is ranked and answered in full.
    result = (await service.call(service.search, q, settings.search_max_results, search_in)
              if q else None)
    if result is not None:
        record_search(request, None, q, result, search_in or "")
    count = i18n.format_number(result.total, locale) if result is not None else ""
    return render(request, "kb/search.html", {"q": q, "result": result, "count": count,
                                              **page_language(request, locale)})


def _kind(setting: str) -> str:
    """A store setting as a kind, never the URL (which may carry a password)."""
    if setting.startswith(POSTGRES_SCHEMES):
        return "postgresql"
    return setting.partition("://")[0]


def _probe(check: Callable[[], object]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # whatever the store raises is the answer: it is down
        log.warning("healthz: %s", exc)
        return {"up": False, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    return {"up": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _backing_services(built: Services) -> dict[str, dict[str, Any]]:
    settings = built.settings
    return {
        "tickets": {"kind": _kind(settings.ticket_store), **_probe(built.tickets.check)},
        "events": {"kind": _kind(settings.event_store), **_probe(built.events.check)},
        "rate_limits": {"kind": _kind(settings.rate_limit_storage),
                        **_probe(built.limits.check)},
    }


async def healthz(request: Request) -> JSONResponse:
    """Liveness, the search generation and each backing service (up, latency). "degraded"
    when any of them is down; 503 only when the ticket store cannot be reached, while search
    keeps serving (a load balancer may still send searches here; the answer says which part
    is down). Events and rate limits down lose no visitor's request: 200."""
    built = services(request)
    service = built.search
    serving = service.serving  # the generation answering searches, not just named on disk
    generation = serving.name if serving else None
    backing = await run_in_threadpool(_backing_services, built)
    healthy = backing["tickets"]["up"]  # events and limits down: degraded, still serving
    everything = all(part["up"] for part in backing.values())
    body = {"status": "ok" if everything else "degraded", "articles": len(service.live_catalog),
            "index_generation": generation, "search": service.status(), "services": backing}
    return JSONResponse(body, 200 if healthy else 503, headers={"cache-control": "no-store"})


ROUTES = [
    Route("/", lambda request: RedirectResponse("/kb/", status_code=302), methods=["GET"]),
    Route("/kb", lambda request: RedirectResponse("/kb/", status_code=301), methods=["GET"]),
    Route("/kb/", kb_index, methods=["GET"], name="kb_index"),
    Route("/kb/search", kb_search, methods=["GET"], name="kb_search"),
    Route("/kb/{slug:path}", kb_article, methods=["GET"], name="kb_article"),
    Route("/healthz", healthz, methods=["GET"]),
]
