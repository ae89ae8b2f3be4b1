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

from ..errors import NotFound
from ..services import Services, services
from ..settings import POSTGRES_SCHEMES
from .api import article_payload
from .common import query_param, record_search, render, search_service
from .discovery import article_head

log = logging.getLogger("deskbell")


async def kb_index(request: Request) -> Response:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    service = search_service(request)
    catalog = await service.call(lambda: service.catalog)
    for meta in catalog.values():
        groups[meta["category"] or "General"].append(meta)
    categories = [
        (name, sorted(items, key=lambda m: m["title"].lower()))
        for name, items in sorted(groups.items(), key=lambda kv: kv[0].lower())
    ]
    return render(request, "kb/index.html", {"categories": categories})


async def kb_article(request: Request) -> Response:
    slug = request.path_params["slug"].strip("/")
    service = search_service(request)
    payload = await service.call(article_payload, service, slug)
    if payload is None:
        raise NotFound("There is no article at this address.")
    if "redirect_to" in payload:
        target = request.app.url_path_for("kb_article", slug=payload["redirect_to"])
        return RedirectResponse(str(target), status_code=301)
    head = article_head(services(request).settings, payload)
    return render(request, "kb/article.html", {"article": payload, "head": head})


async def kb_search(request: Request) -> Response:
    settings = services(request).settings
    q = query_param(request, "q", max_length=settings.query_max_length).strip()
    service = search_service(request)
    # A submitted form: the query is finished, so it is ranked and answered in full.
    result = await service.call(service.search, q, settings.search_max_results) if q else None
    if result is not None:
        record_search(request, None, q, result, "")
    return render(request, "kb/search.html", {"q": q, "result": result})


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
