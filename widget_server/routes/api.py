"""Knowledge-base JSON API: search, suggestions, articles, feedback. Thin over search.py.

The suggestions answer, which the panel fetches when it opens, also carries the owner's
current notice (notices/): one request on the open path, and the notice comes from
NoticeBoard's cache, so it costs no database query most of the time."""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..articles import article_path, in_language
from ..errors import DeskbellError, NotFound
from ..events import VOTE
from ..schemas import FEEDBACK
from ..search import SearchService, encode_json
from ..services import services
from .common import (
    bool_param,
    check_origin,
    client_ip,
    int_param,
    query_param,
    read_json,
    record_search,
    search_service,
    session_param,
)

JSON_CACHE = {"cache-control": "no-store"}
log = logging.getLogger("deskbell")


def _search(request: Request) -> SearchService:
    """The search service, after counting this request against the caller's API rate."""
    services(request).limits.api.hit(client_ip(request))
    return search_service(request)


async def search(request: Request) -> Response:
    settings = services(request).settings
    q = query_param(request, "q", max_length=settings.query_max_length).strip()
    limit = int_param(request, "limit", 10, 1, settings.search_max_results)
    locale = query_param(request, "locale", max_length=20).strip() or None
    instant = bool_param(request, "instant")
    session = session_param(request)
    service = _search(request)
    result = await service.call(service.search, q, limit, locale, instant)
    if session or not instant:  # a preview nobody can fold into the query typed on to is not
        record_search(request, session, q, result, locale or "", instant)
    answer = encode_json(result.answer.as_dict()) if result.answer else b"null"
    body = (b'{"query":%s,"total":%d,"confidence":%s,"answer":%s,"locale":%s,"fallback":%s,'
            b'"results":%s}') % (
        encode_json(q), result.total, encode_json(round(result.confidence, 3)), answer,
        encode_json(result.locale), b"true" if result.fallback else b"false", result.hits_json)
    return Response(body, media_type="application/json", headers=JSON_CACHE)


def _brief(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "slug": meta["slug"], "title": meta["title"], "url": article_path(meta["slug"]),
        "summary": meta["summary"], "category": meta["category"],
        "locale": meta.get("locale") or "en",
    }


async def current_notice(request: Request, locale: str | None) -> dict[str, Any] | None:
    """The notice the panel shows, in `locale` when the owner wrote that language; None
    when there is none, or when its store cannot be read (the panel works without it)."""
    try:
        notice = await run_in_threadpool(services(request).notices.current)
    except DeskbellError as exc:
        log.warning("notices unavailable, the panel opens without one: %s", exc.message)
        return None
    return notice.for_panel(locale) if notice else None


async def suggestions(request: Request) -> JSONResponse:
    url = query_param(request, "url", max_length=2000)
    limit = int_param(request, "limit", 5, 1, 20)
    locale = query_param(request, "locale", max_length=20).strip() or None
    service = _search(request)
    default = services(request).settings.default_locale

    def suggested() -> list[dict[str, Any]]:
        # Each article once, in the visitor's language when it is translated (else in the
        # site's); a few more asked for, as translations of one article count once.
        found = service.suggestions(url, limit * 4)
        wanted = (locale or default).strip().lower().replace("_", "-")
        return in_language(found, service.catalog, wanted, default)[:limit]

    results = [_brief(m) for m in await service.call(suggested)]
    notice = await current_notice(request, locale)
    return JSONResponse({"url": url, "results": results, "notice": notice}, headers=JSON_CACHE)


def article_payload(service: SearchService, slug: str) -> dict[str, Any] | None:
    canonical, is_alias = service.resolve(slug)
    article = service.article(canonical) if canonical else None
    if article is None:
        return None
    catalog = service.catalog
    related = [_brief(catalog[s]) for s in article["related"] if s in catalog]
    payload = {
        "slug": article["slug"], "title": article["title"], "summary": article["summary"],
        "category": article["category"], "tags": article["tags"], "locale": article["locale"],
        "url": article_path(article["slug"]), "html": article["html"], "related": related,
        "updated": article["updated"],
        # {locale: slug} of its published translations, for "Also in Español".
        "translations": {loc: slug for loc, slug in article.get("translations", {}).items()
                         if slug in catalog},
    }
    if is_alias:
        payload["redirect_to"] = article["slug"]
    return payload


async def article(request: Request) -> JSONResponse:
    slug = request.path_params["slug"].strip("/")
    service = _search(request)
    payload = await service.call(article_payload, service, slug)
    if payload is None:
        raise NotFound(f"No article with slug {slug!r}")
    return JSONResponse(payload, headers=JSON_CACHE)


async def feedback(request: Request) -> JSONResponse:
    check_origin(request)
    slug = request.path_params["slug"].strip("/")
    service = _search(request)
    canonical, _ = await service.call(service.resolve, slug)
    if canonical is None:
        raise NotFound(f"No article with slug {slug!r}")
    data = FEEDBACK.validate(await read_json(request))
    events = services(request).events
    session = data["session"]
    services(request).searches.settle(session)
    # data.reason: the code of VOTE_REASONS ("" when none was given); data.comment: the
    # visitor's words. Votes stored before reasons held the words in `reason` (vote_reason).
    vote = {"slug": canonical, "helpful": data["helpful"], "reason": data["reason"] or "",
            "comment": data["comment"]}
    # append() fsyncs before we acknowledge: keep that off the event loop.
    await run_in_threadpool(events.append, session, VOTE, vote)
    return JSONResponse({"recorded": True}, status_code=202)


ROUTES = [
    Route("/api/v1/search", search, methods=["GET"]),
    Route("/api/v1/suggestions", suggestions, methods=["GET"]),
    Route("/api/v1/articles/{slug:path}/feedback", feedback, methods=["POST"]),
    Route("/api/v1/articles/{slug:path}", article, methods=["GET"]),
]
