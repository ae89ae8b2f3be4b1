"""/admin/insights: metrics, charts, content gaps and spikes for a chosen range, behind login;
and each content gap worth an article as a markdown draft to download (a form post)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .. import charts
from ..errors import BadRequest, NotFound
from ..events import EventStore
from ..insights import (
    Draft,
    Durations,
    Report,
    day_range,
    draft_article,
    format_duration,
    format_rate,
    load_report,
    top_gaps,
)
from ..search import SearchService
from ..services import services
from ..tickets import TicketStore
from .auth import NO_STORE, Session, admin_form, admin_page, render_admin
from .tickets import in_store

MAX_DAYS = 366
BANDS = [("< 1h", 3600), ("1-4h", 4 * 3600), ("4-8h", 8 * 3600), ("8-24h", 86400),
         ("1-2d", 2 * 86400), ("> 2d", float("inf"))]


def _day(request: Request, name: str, default: date) -> date:
    raw = request.query_params.get(name, "")
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a day like 2026-03-01") from None


def parse_range(request: Request) -> tuple[date, date, ZoneInfo]:
    """since/until (inclusive days, YYYY-MM-DD) and tz from the query; default the last 30 days."""
    name = request.query_params.get("tz", "UTC")[:64] or "UTC"
    try:
        tz = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"Unknown time zone {name!r}") from None
    until = _day(request, "until", datetime.now(tz).date())
    since = _day(request, "since", until - timedelta(days=29))
    if since > until:
        raise BadRequest("since must not be after until")
    if (until - since).days >= MAX_DAYS:
        raise BadRequest(f"Choose a range of at most {MAX_DAYS} days")
    return since, until, tz


def band_counts(d: Durations) -> list[int]:
    counts = [0] * len(BANDS)
    for value in d.values:
        counts[next(i for i, (_, top) in enumerate(BANDS) if value < top)] += 1
    return counts


def _charts(r: Report) -> dict[str, Markup]:
    per_day = [(f"{d:%b %d}", n) for d, n in r.tickets.per_day]
    self_service = [(f"{d:%b %d}", rate) for d, rate, _ in r.self_service_daily]
    return {
        "tickets": charts.bar_chart(per_day, "Tickets per day", " tickets"),
        "self_service": charts.line_chart(self_service, "Self-service rate per day"),
        "times": charts.grouped_bars(
            [label for label, _ in BANDS],
            [("First response", band_counts(r.times.first_response), charts.PRIMARY),
             ("Resolution", band_counts(r.times.resolution), charts.SECOND)],
            "How long tickets waited"),
        "searches": charts.hbar_chart(r.top_searches, "Top searches"),
    }


@admin_page
async def insights_page(request: Request, session: Session) -> Response:
    since, until, tz = parse_range(request)
    state = services(request)
    start, end = day_range(since, until, tz)
    report = await in_store(load_report, state.events, state.tickets, start, end, tz)
    context = {
        "csrf": session["csrf"], "r": report, "charts": _charts(report),
        "draftable": {v.query for gap in top_gaps(report) for v in gap.variants},
        "since": since, "until": until, "tz": tz.key, "nps_enabled": state.settings.nps_enabled,
        "presets": [(label, until - timedelta(days=n - 1)) for label, n in
                    (("7 days", 7), ("30 days", 30), ("90 days", 90))],
        "duration": format_duration, "rate": format_rate,
    }
    return render_admin(request, "admin/insights.html", context)


def _draft(events: EventStore, tickets: TicketStore, search: SearchService, since: datetime,
           until: datetime, tz: ZoneInfo, query: str) -> Draft | None:
    """The draft of the gap `query` is a spelling of, from the report of the range (blocks)."""
    report = load_report(events, tickets, since, until, tz)
    gap = next((g for g in top_gaps(report) if g.has(query)), None)
    if gap is None:
        return None
    taken = {name for slug, meta in search.live_catalog.items()
             for name in (slug, *meta.get("aliases", ()))}
    serving = search.serving
    known = serving.vocabulary if serving is not None else None
    return draft_article(gap, tickets.get, report=report, taken=taken, known=known)


@admin_form
async def draft_download(request: Request, session: Session, form: FormData) -> Response:
    """A markdown draft of one content gap (the range in the query string, as the page's),
    downloaded as <slug>.md: a form post, so it carries the CSRF token like every admin form."""
    since, until, tz = parse_range(request)
    query = form.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("Choose a content gap to draft")
    state = services(request)
    start, end = day_range(since, until, tz)
    draft = await in_store(_draft, state.events, state.tickets, state.search, start, end, tz,
                           query)
    if draft is None:
        raise NotFound("No content gap worth an article searches for that in this range")
    return Response(draft.text, media_type="text/markdown; charset=utf-8", headers={
        **NO_STORE, "content-disposition": f'attachment; filename="{draft.filename}"'})


ROUTES: list[BaseRoute] = [
    Route("/admin/insights", insights_page, methods=["GET"], name="admin_insights"),
    Route("/admin/insights/draft", draft_download, methods=["POST"], name="admin_draft"),
]
