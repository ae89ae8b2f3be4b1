"""The whole report, typed: one loader for /admin/insights and `deskbell report` alike.

    load_report(events, tickets, since, until, tz) -> Report

reads the stores once, builds one `Activity` (sessions grouped and queries clustered once) and
computes every figure from it. Renderers only render: the admin page through its template,
the command as text, markdown or JSON (`to_jsonable(report)`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from .activity import Activity, Event, QueryGroups, Ticket
from .agents import AGENT_FIELDS, AgentFigures, AgentRow, agent_figures, agent_rows, from_rows
from .facts import SELF_SERVICE_HOURS, EventFacts
from .gaps import Gaps, content_gaps
from .metrics import (
    ArticleStats,
    Count,
    DayRate,
    ResponseTimes,
    Satisfaction,
    SelfService,
    SessionFigures,
    TicketVolume,
    article_stats,
    daily_self_service,
    local_midnight,
    response_times,
    satisfaction,
    self_service,
    session_summary,
    ticket_volume,
    top_searches,
)
from .spikes import BASELINE_DAYS, CATEGORY, Spikes, Topics, category_topics, report_spikes


@dataclass(frozen=True)
class Report:
    """Metrics and content gaps for [since, until); spikes for the day and week ending at until.

    The fields are in the order of the JSON report (`to_jsonable`); `queries` is how every
    figure here grouped search queries, kept for whoever wants to look and left out of the JSON.
    """

    since: datetime
    until: datetime
    timezone: str
    sessions: SessionFigures
    self_service: SelfService
    self_service_daily: tuple[DayRate, ...]
    tickets: TicketVolume
    times: ResponseTimes
    satisfaction: Satisfaction
    articles: tuple[ArticleStats, ...]
    top_searches: tuple[Count, ...]
    gaps: Gaps
    spikes: Spikes
    queries: QueryGroups = field(repr=False, compare=False)
    agents: tuple[AgentFigures, ...] = ()  # per agent (insights/agents.py): owners see them

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "queries"}


def report_span(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The events and tickets a report needs: its range plus the spike baseline before `until`."""
    return min(since, until - timedelta(days=7 + BASELINE_DAYS)), until


def day_range(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Whole local days: [midnight starting `first`, midnight after `last`) in tz."""
    return local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz)


def build_report(tickets: Iterable[Ticket], events: Iterable[Event], since: datetime,
                 until: datetime, tz: ZoneInfo, names: Mapping[str, str] | None = None) -> Report:
    """Every figure for [since, until) from one Activity (`names`: agents' display names
    by id, for the per-agent figures).

    `events` and `tickets` may reach back further (see `report_span`) for the spike baseline.
    """
    activity = Activity.build(tickets, events, since, until, tz)
    return replace(report_of(activity, since, until, tz),
                   agents=agent_figures(activity.tickets, since, until, names or {}))


@dataclass(frozen=True)
class TicketFigures:
    """The figures that read tickets alone: worked out as soon as the tickets are read."""

    volume: TicketVolume
    times: ResponseTimes
    satisfaction: Satisfaction
    categories: Topics  # the tickets by category, for the spikes

    @classmethod
    def of(cls, tickets: Sequence[Ticket], since: datetime, until: datetime,
           tz: ZoneInfo) -> TicketFigures:
        return cls(ticket_volume(tickets, since, until, tz), response_times(tickets, since, until),
                   satisfaction(tickets, since, until), category_topics(tickets))


def report_of(activity: Activity, since: datetime, until: datetime, tz: ZoneInfo,
              figures: TicketFigures | None = None) -> Report:
    """Every figure for [since, until) from an Activity folded for that range in `tz`
    (`figures`: TicketFigures.of(activity.tickets, ...), when already worked out)."""
    figures = figures or TicketFigures.of(activity.tickets, since, until, tz)
    return Report(
        since=since,
        until=until,
        timezone=tz.key,
        sessions=session_summary(activity),
        self_service=self_service(activity),
        self_service_daily=daily_self_service(activity, since, until, tz),
        tickets=figures.volume,
        times=figures.times,
        satisfaction=figures.satisfaction,
        articles=article_stats(activity),
        top_searches=top_searches(activity),
        gaps=content_gaps(activity),
        spikes=report_spikes(activity, until, tz, figures.categories),
        queries=activity.queries,
    )


class EventSource(Protocol):
    def report_facts(self, first: datetime, since: datetime, until: datetime,
                     tz: ZoneInfo, hours: int = ..., now: datetime | None = ...) -> EventFacts: ...


class TicketSource(Protocol):
    def tickets_touched(self, since: str, until: str,
                        fields: Sequence[str] | None = None) -> Iterable[Ticket]: ...


# What a report reads of a ticket: the stores hand over only these fields.
REPORT_FIELDS = ("reference", "subject", "category", "created_at", "first_reply_at",
                 "solved_at", "ratings")
EPOCH = datetime(1, 1, 2, tzinfo=UTC)


def load_report(events: EventSource | None, tickets: TicketSource, since: datetime,
                until: datetime, tz: ZoneInfo, hours: int = SELF_SERVICE_HOURS,
                now: datetime | None = None, names: Mapping[str, str] | None = None) -> Report:
    """Read what [since, until) and its spike baseline need from the stores, then build.

    Events: the store's facts for the span (EventStore.report_facts: folded in Python, or
    computed in SQL by the PostgreSQL store). Tickets: those created or rated in the span
    (`report_span`; TicketStore.tickets_touched), only the fields a report reads, not every
    ticket. That is every ticket a figure reads: volume and response times count
    tickets created in [since, until), satisfaction the ratings given in it, spikes the
    tickets created since the baseline began. The one exception: a category spike whose run
    of busy days reaches back to the span's first day may need older tickets to find where
    it started, so that rare report is built again from every ticket created before `until`.

    Per agent (`names`: display names by id): a store that answers `agent_rows` (PostgreSQL,
    in SQL) is asked; otherwise they come from the tickets read, with AGENT_FIELDS too.

    Blocks on disk (or the database): the server calls it on a worker thread.
    """
    first, last = report_span(since, until)
    in_sql = getattr(tickets, "agent_rows", None)
    wanted = REPORT_FIELDS if in_sql is not None else (*REPORT_FIELDS, *AGENT_FIELDS)

    def read_tickets() -> tuple[tuple[Ticket, ...], TicketFigures, tuple[AgentRow, ...]]:
        touched = tuple(tickets.tickets_touched(first.isoformat(), last.isoformat(), wanted))
        rows = (in_sql(since, until) if in_sql is not None
                else agent_rows(touched, since, until))
        return touched, TicketFigures.of(touched, since, until, tz), tuple(rows)

    # The tickets are read, and their figures worked out, while the events are folded (a
    # database folding them leaves this thread the processor).
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(read_tickets)
        facts = (events.report_facts(first, since, until, tz, hours,
                                     now or datetime.now(UTC)) if events is not None
                 else EventFacts(tz.key))
        touched, figures, rows = reading.result()
    report = report_of(Activity(touched, facts), since, until, tz, figures)
    if _reaches_before(report, first, tz):
        every = tickets.tickets_touched(EPOCH.isoformat(), last.isoformat(), REPORT_FIELDS)
        report = report_of(Activity(tuple(every), facts), since, until, tz)
    return replace(report, agents=from_rows(rows, names or {}))


def _reaches_before(report: Report, first: datetime, tz: ZoneInfo) -> bool:
    """Whether a category spike's start (spikes._started: the first of an unbroken run of busy
    local days) is within a day of the local day holding `first`: with tickets created before
    `first`, the run could reach further back, so its start could be earlier."""
    edge = first.astimezone(tz).date() + timedelta(days=1)
    return any(s.kind == CATEGORY and s.started.astimezone(tz).date() <= edge
               for s in (*report.spikes.day, *report.spikes.week))


def to_jsonable(value: Any) -> Any:
    """A report (or any part of it) as plain JSON types: dates as ISO strings, rows as lists."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "as_dict"):
        return to_jsonable(value.as_dict())
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def format_duration(seconds: float | None) -> str:
    """A duration as a person reads it: 45s, 12m, 3h 20m, 2d 4h; an em dash for none."""
    if seconds is None:
        return "\u2014"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else f"{secs}s"


def format_rate(value: float | None) -> str:
    return "\u2014" if value is None else f"{100 * value:.1f}%"


__all__ = ["Report", "build_report", "day_range", "format_duration", "format_rate",
           "load_report", "report_span", "to_jsonable"]
