"""/admin/insights: metrics, charts, content gaps and spikes for a chosen range, behind login;
each content gap worth an article as a markdown draft to download (a form post); the answer
to a spike, a notice at the top of the help panel, published from the spike's row and cleared
from the page's notice list (form posts, with the CSRF token like every admin form); and the
articles to look after (insights/freshness.py, what `deskbell check --stale` prints: reviews
past due, links visitors cannot follow, helpful ratios that fell), grouped by article."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .. import charts
from ..articles import KnowledgeBase, Stale, load_kb
from ..errors import BadRequest, DeskbellError, NotFound
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
from ..insights.coverage import (
    CoverageReport,
    covered_and_compared,
    covered_by,
    covering_articles,
)
from ..insights.facts import Funnel
from ..insights.freshness import (
    WINDOW_DAYS,
    HelpfulDrop,
    freshness_report,
    vote_windows,
)
from ..insights.gaps import WRITE, TicketQueryGap, ZeroResultGap
from ..insights.spikes import CATEGORY, Spike
from ..notices import MAX_TEXT, Notice, new_notice, ui_locales
from ..search import SearchService
from ..services import services
from ..team import MANAGE
from ..tickets import TicketStore
from .auth import NO_STORE, Session, actor_of, admin_form, admin_page, render_admin
from .tickets import in_store

log = logging.getLogger("deskbell")
MAX_DAYS = 366
NOTICE_HOURS = 4  # a notice published from a spike shows this long unless the admin says
MAX_TOPIC = 80  # characters of a spike's topic quoted in the suggested notice text
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
        "funnel": charts.hbar_chart(funnel_steps(r.self_service.funnel),
                                    "Help sessions at each step", charts.PRIMARY),
    }


def funnel_steps(f: Funnel) -> list[tuple[str, int]]:
    """The funnel's steps as the page and the digest name them."""
    return [("Searched or read", f.engaged), ("Searched", f.searched),
            ("Read an article or an answer", f.read), ("Voted", f.voted),
            (f"Opened a ticket within {f.hours} h", f.escalated)]


# --- keeping the knowledge base fresh ---------------------------------------------------------


@dataclass(frozen=True)
class StaleArticle:
    """One article of the freshness list: where it is, who owns it, and each row of
    `freshness_report` about it (Stale: a review or a link; HelpfulDrop: its votes)."""

    slug: str
    title: str
    path: str
    owner: str
    rows: tuple[Stale | HelpfulDrop, ...]


@dataclass(frozen=True)
class Freshness:
    articles: tuple[StaleArticle, ...]
    note: str  # why the list is partial or missing ("" when it is whole)


def read_kb(kb_dir: Path) -> KnowledgeBase | None:
    """The KB folder, read once for the page's freshness list and covered gaps; None (logged)
    when it cannot be read."""
    try:
        return load_kb(kb_dir)
    except (OSError, DeskbellError) as exc:
        log.warning("insights page: the knowledge base cannot be read: %s", exc)
        return None


def covered_gaps(events: EventStore, kb: KnowledgeBase | None, today: date,
                 tz: ZoneInfo) -> tuple[Callable[[Iterable[str]], str | None], CoverageReport]:
    """covered_and_compared; when the events cannot be read, the labels without the
    comparison (logged): the rest of the page still opens."""
    try:
        return covered_and_compared(events, kb, today, tz)
    except (OSError, DeskbellError) as exc:
        log.warning("insights page: covered gaps not compared: %s",
                    exc.message if isinstance(exc, DeskbellError) else exc)
        articles = covering_articles(kb)[0] if kb is not None else ()
        return covered_by(articles), CoverageReport((), ())


def freshness(kb_dir: Path | KnowledgeBase | None, events: EventStore, now: datetime,
              today: date) -> Freshness:
    """The freshness list of the KB folder (or of the knowledge base already read), by
    article (blocks: a worker thread calls it).

    The same rows as `deskbell check --stale`, reviews judged as of `today` (the admin's
    day). Votes come from the event store; when it cannot be read the reviews and links are
    still listed, with a note that the helpful ratios are not."""
    kb = read_kb(kb_dir) if isinstance(kb_dir, Path) else kb_dir
    if kb is None:
        return Freshness((), "The knowledge base could not be read, so this list is missing.")
    note = ""
    try:
        votes = vote_windows(events, now)
    except (OSError, DeskbellError) as exc:
        log.warning("insights page: votes unavailable for freshness: %s",
                    exc.message if isinstance(exc, DeskbellError) else exc)
        votes = ({}, {})
        note = ("The votes could not be read right now, so articles voted less helpful are "
                "not listed; reviews and links are.")
    by_path = {a.path: a for a in kb.articles}
    grouped: dict[str, list[Stale | HelpfulDrop]] = {}
    for row in freshness_report(kb.articles, votes, now, today):
        grouped.setdefault(row.path, []).append(row)
    found = []
    for path, rows in grouped.items():
        article = by_path[path]
        found.append(StaleArticle(article.slug, article.title, path, article.owner, tuple(rows)))
    return Freshness(tuple(found), note)


def _knowledge(kb_dir: Path, events: EventStore, now: datetime, today: date,
               compared_to: date, tz: ZoneInfo
               ) -> tuple[Freshness, Callable[[Iterable[str]], str | None], CoverageReport]:
    """What the page reads from the KB folder (once): the freshness list and covered gaps."""
    kb = read_kb(kb_dir)
    return (freshness(kb, events, now, today), *covered_gaps(events, kb, compared_to, tz))


def fresh_line(row: Stale | HelpfulDrop) -> str:
    """One row of the freshness list as a sentence for the page (the CLI prints `message`)."""
    if isinstance(row, HelpfulDrop):
        return (f"Found helpful by {row.ratio_recent:.0%} of {row.votes_recent} votes in the "
                f"last {WINDOW_DAYS} days, down from {row.ratio_before:.0%} of "
                f"{row.votes_before} in the {WINDOW_DAYS} days before")
    text = row.message[:1].upper() + row.message[1:]
    return f"{text} (line {row.line})" if row.kind == "link" and row.line > 1 else text


# --- the page ----------------------------------------------------------------------------------


@admin_page
async def insights_page(request: Request, session: Session) -> Response:
    since, until, tz = parse_range(request)
    state = services(request)
    start, end = day_range(since, until, tz)
    now = datetime.now(UTC)
    # Both read the event store on worker threads; the freshness list handles its own errors.
    # Covered gaps are compared over windows that end with the range (or today).
    compared_to = min(until + timedelta(days=1), now.astimezone(tz).date())
    names = ({a.id: a.display_name for a in await in_store(state.team.agents)}
             if session.can(MANAGE) else {})  # the per-agent table is the owners'
    report, (fresh, slug_of, covered) = await asyncio.gather(
        in_store(load_report, state.events, state.tickets, start, end, tz,
                 state.settings.self_service_hours, None, names),
        in_store(_knowledge, Path(state.settings.kb_dir), state.events, now,
                 now.astimezone(tz).date(), compared_to, tz))
    gaps: list[ZeroResultGap | TicketQueryGap] = [*report.gaps.zero_results,
                                                  *report.gaps.ticket_queries]
    context = {
        "csrf": session.csrf, "can_manage": session.can(MANAGE), "r": report, "charts": _charts(report),
        "draftable": {v.query for gap in top_gaps(report) for v in gap.variants},
        "covered": {g.query: slug for g in gaps
                    if (slug := slug_of(q for q, _ in g.variants)) is not None},
        "write_action": WRITE, "compared": covered,
        "compare_last": compared_to - timedelta(days=1),
        "since": since, "until": until, "tz": tz.key, "nps_enabled": state.settings.nps_enabled,
        "presets": [(label, until - timedelta(days=n - 1)) for label, n in
                    (("7 days", 7), ("30 days", 30), ("90 days", 90))],
        "duration": format_duration, "rate": format_rate,
        "fresh": fresh, "fresh_line": fresh_line, "window_days": WINDOW_DAYS,
        **await _notice_context(request),
    }
    return render_admin(request, "admin/insights.html", context)


def notice_text(spike: Spike) -> str:
    """The suggested notice for a spike, for the admin to edit before publishing."""
    topic = spike.topic if len(spike.topic) <= MAX_TOPIC else spike.topic[:MAX_TOPIC - 1] + "…"
    about = topic if spike.kind == CATEGORY else f"“{topic}”"
    return f"We know about a problem with {about} and are working on it."


async def _notice_context(request: Request) -> dict[str, object]:
    """What the page needs for notices: those showing, the public article slugs to link, the
    UI languages to write in and a default end."""
    state = services(request)
    now = state.notices.clock()
    try:
        showing: list[Notice] = await in_store(state.notices.showing, now)
    except DeskbellError as exc:  # the report is still worth showing
        log.warning("notices unavailable on the insights page: %s", exc.message)
        showing = []
    until = (now + timedelta(hours=NOTICE_HOURS)).astimezone(UTC).replace(
        minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return {
        "notices": showing, "notice_text": notice_text, "notice_max": MAX_TEXT,
        "notice_until": until.strftime("%Y-%m-%dT%H:%M"),
        "notice_locales": [code for code in ui_locales() if code != "en"],
        "article_slugs": sorted(state.search.live_catalog),
    }


def _back_to_insights(request: Request) -> RedirectResponse:
    """303 to the insights page, same range (the query string the form was posted with)."""
    target = str(request.app.url_path_for("admin_insights"))
    query = request.url.query
    return RedirectResponse(target + ("?" + query if query else ""), 303, headers=NO_STORE)


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@admin_form(MANAGE)
async def publish_notice(request: Request, session: Session, form: FormData) -> Response:
    """Publish a notice (default text, optional text per UI language, optional article,
    until a UTC time): NoticeInvalid (422, each bad field named) or back to the page."""
    state = services(request)
    slug = _field(form, "article").strip().strip("/")
    canonical = None
    if slug and len(slug) <= 200:
        canonical, _ = await state.search.call(state.search.resolve, slug)
    texts = {code: text for code in ui_locales()
             if (text := _field(form, f"text_{code}").strip())}
    notice = new_notice(_field(form, "text"), until=_field(form, "until"),
                        now=state.notices.clock(), texts=texts, article=slug or None,
                        find_article=lambda _: canonical)
    await in_store(state.notices.publish, notice)
    await in_store(partial(state.team.record, actor_of(request, session), "notice.published",
                           notice.id, until=notice.until.isoformat(), text=notice.text))
    return _back_to_insights(request)


@admin_form(MANAGE)
async def clear_notice(request: Request, session: Session, form: FormData) -> Response:
    """Take the notice `id` down now (NotFound for an id never published)."""
    notice_id = _field(form, "id").strip()
    if not notice_id:
        raise BadRequest("Choose a notice to clear")
    state = services(request)
    cleared = await in_store(state.notices.clear, notice_id[:40])
    await in_store(partial(state.team.record, actor_of(request, session), "notice.cleared",
                           notice_id[:40], cleared=len(cleared)))
    return _back_to_insights(request)


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
    Route("/admin/insights/notice", publish_notice, methods=["POST"], name="admin_notice"),
    Route("/admin/insights/notice/clear", clear_notice, methods=["POST"],
          name="admin_notice_clear"),
]
