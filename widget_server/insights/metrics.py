"""Support and self-service metrics as pure functions, each returning a typed, frozen figure.

Session figures read an `Activity` (events grouped by session once); ticket figures read the
tickets. Every figure covers a half-open range [since, until) of aware datetimes; per-day
figures are bucketed by the calendar day in a chosen time zone, so a range crossing midnight or
a DST change lands each item on the day a person in that zone would say. The exact definitions
are in the README's "Metrics" section and in each function's docstring.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from ..events import parse_time
from .activity import Activity, Ticket, in_range
from .facts import Funnel, ranked


class DayCount(NamedTuple):
    day: date
    n: int


class DayRate(NamedTuple):
    day: date
    rate: float | None
    sessions: int


class Count(NamedTuple):
    """A name (a query, a category) and how often it came up."""

    name: str
    n: int


def days_between(since: datetime, until: datetime, tz: ZoneInfo) -> list[date]:
    """Every local calendar day that [since, until) touches, in order."""
    first = since.astimezone(tz).date()
    last = (until - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def nearest_rank(values: list[float], pct: float) -> float | None:
    """The pct-th percentile by nearest rank: the smallest value with >= pct% at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --- sessions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionFigures:
    help_sessions: int
    engaged_sessions: int
    self_served_sessions: int
    self_service_rate: float | None
    searches: int
    successful_searches: int
    search_success_rate: float | None
    zero_result_searches: int
    zero_result_rate: float | None


def session_summary(activity: Activity) -> SessionFigures:
    """Help sessions, self-service rate and search success.

    help_sessions: distinct session ids with any event. engaged_sessions: those with a search or
    an article view. self_served: engaged sessions without a ticket_created event.
    self_service_rate = self_served / engaged_sessions. A search succeeded when the same session
    viewed an article after it and before its next search; search_success_rate = successful /
    searches. zero_result_rate = searches with 0 results / searches. Rates are None without data.
    """
    f = activity.facts
    return SessionFigures(
        help_sessions=f.help_sessions,
        engaged_sessions=f.engaged_sessions,
        self_served_sessions=f.self_served_sessions,
        self_service_rate=_ratio(f.self_served_sessions, f.engaged_sessions),
        searches=f.searches,
        successful_searches=f.successful_searches,
        search_success_rate=_ratio(f.successful_searches, f.searches),
        zero_result_searches=f.zero_result_searches,
        zero_result_rate=_ratio(f.zero_result_searches, f.searches),
    )


@dataclass(frozen=True)
class SelfService:
    """What became of the range's engaged sessions (facts.py defines the funnel): escalated,
    confirmed or assumed self-service once their `hours` have passed, or too recent to tell.
    Each rate is over the decided sessions (engaged minus too recent); None without any."""

    funnel: Funnel
    decided: int
    confirmed_rate: float | None
    assumed_rate: float | None
    escalated_rate: float | None


def self_service(activity: Activity) -> SelfService:
    """confirmed_rate = confirmed / decided, assumed_rate = assumed / decided,
    escalated_rate = escalated / decided, decided = engaged - recent (they add up to 1)."""
    f = activity.facts.funnel
    decided = f.engaged - f.recent
    return SelfService(f, decided, _ratio(f.confirmed, decided), _ratio(f.assumed, decided),
                       _ratio(f.escalated, decided))


def daily_self_service(activity: Activity, since: datetime, until: datetime,
                       tz: ZoneInfo) -> tuple[DayRate, ...]:
    """(day, self-service rate, engaged sessions) per local day; a session counts on the day
    of its first search or article view. The days are those of the zone the activity was
    folded in, which must be `tz`."""
    if activity.facts.timezone != tz.key:
        raise ValueError(f"sessions were put on days in {activity.facts.timezone}, not {tz.key}")
    per_day = activity.facts.engaged_days
    return tuple(DayRate(day, _ratio(per_day[day][1], per_day[day][0]) if day in per_day
                         else None, per_day[day][0] if day in per_day else 0)
                 for day in days_between(since, until, tz))


# --- tickets -----------------------------------------------------------------------------------


def tickets_in_range(tickets: Iterable[Ticket], since: datetime, until: datetime) -> list[Ticket]:
    return [t for t, _ in _created_in_range(tickets, since, until)]


def _created_in_range(tickets: Iterable[Ticket], since: datetime,
                      until: datetime) -> list[tuple[Ticket, datetime]]:
    """(ticket, created_at parsed) of the tickets created in range: parsed once."""
    chosen = []
    for ticket in tickets:
        created = parse_time(ticket["created_at"])
        if since <= created < until:
            chosen.append((ticket, created))
    return chosen


@dataclass(frozen=True)
class TicketVolume:
    total: int
    per_day: tuple[DayCount, ...]
    per_category: tuple[Count, ...]


def ticket_volume(tickets: Iterable[Ticket], since: datetime, until: datetime,
                  tz: ZoneInfo) -> TicketVolume:
    """Tickets created in range: total, per local day (every day listed) and per category."""
    chosen = _created_in_range(tickets, since, until)
    per_day = Counter(created.astimezone(tz).date() for _, created in chosen)
    per_category = Counter(t.get("category") or "uncategorized" for t, _ in chosen)
    return TicketVolume(
        total=len(chosen),
        per_day=tuple(DayCount(day, per_day[day]) for day in days_between(since, until, tz)),
        per_category=tuple(Count(*pair) for pair in ranked(per_category)),
    )


@dataclass(frozen=True)
class Durations:
    """Median and 90th percentile of a set of durations, in seconds."""

    count: int
    median: float | None
    p90: float | None
    values: tuple[float, ...] = field(default=(), repr=False)  # sorted; not in the JSON

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "median": self.median, "p90": self.p90}


def durations(values: list[float]) -> Durations:
    median = statistics.median(values) if values else None
    return Durations(len(values), median, nearest_rank(values, 90), tuple(sorted(values)))


@dataclass(frozen=True)
class ResponseTimes:
    first_response: Durations
    unanswered: int
    resolution: Durations
    unresolved: int


def response_times(tickets: Iterable[Ticket], since: datetime, until: datetime) -> ResponseTimes:
    """First response and resolution times (seconds) of tickets created in range.

    FRT = first_reply_at - created_at, over tickets with a reply; the others count as
    "unanswered". Resolution = solved_at - created_at over tickets with solved_at (for a reopened
    ticket, its latest solve); the others count as "unresolved".
    """
    chosen = _created_in_range(tickets, since, until)
    frt, resolution = [], []
    for ticket, created in chosen:
        if ticket.get("first_reply_at"):
            frt.append((parse_time(ticket["first_reply_at"]) - created).total_seconds())
        if ticket.get("solved_at"):
            resolution.append((parse_time(ticket["solved_at"]) - created).total_seconds())
    return ResponseTimes(durations(frt), len(chosen) - len(frt), durations(resolution),
                         len(chosen) - len(resolution))


@dataclass(frozen=True)
class Satisfaction:
    ratings: int
    csat: float | None
    ces: float | None
    ces_answers: int
    nps: float | None
    nps_answers: int


def satisfaction(tickets: Iterable[Ticket], since: datetime, until: datetime) -> Satisfaction:
    """CSAT, CES and NPS over ratings given in range (a reopened ticket may be rated again).

    CSAT = ratings with csat 4 or 5 / ratings. CES = mean of the ces answers given. NPS =
    % of nps answers 9-10 minus % 0-6, over ratings that carry an nps answer (None if none).
    """
    ratings = [
        r for t in tickets for r in t.get("ratings") or []
        if in_range(parse_time(r["at"]), since, until)
    ]
    ces = [r["ces"] for r in ratings if r.get("ces") is not None]
    nps = [r["nps"] for r in ratings if r.get("nps") is not None]
    return Satisfaction(
        ratings=len(ratings),
        csat=_ratio(sum(1 for r in ratings if r["csat"] >= 4), len(ratings)),
        ces=statistics.fmean(ces) if ces else None,
        ces_answers=len(ces),
        nps=(100 * (sum(n >= 9 for n in nps) - sum(n <= 6 for n in nps)) / len(nps))
        if nps else None,
        nps_answers=len(nps),
    )


# --- articles and searches ---------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleStats:
    slug: str
    views: int = 0
    helpful: int = 0
    not_helpful: int = 0
    sources: Mapping[str, int] = field(default_factory=dict)

    @property
    def votes(self) -> int:
        return self.helpful + self.not_helpful

    @property
    def helpful_ratio(self) -> float | None:
        return _ratio(self.helpful, self.votes)

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "views": self.views, "helpful": self.helpful,
                "not_helpful": self.not_helpful, "helpful_ratio": self.helpful_ratio,
                "sources": dict(self.sources)}


def article_stats(activity: Activity) -> tuple[ArticleStats, ...]:
    """Views (by source) and helpful/not-helpful votes per article, most viewed first."""
    f = activity.facts
    stats = [ArticleStats(slug, sum(f.views.get(slug, {}).values()),
                          *f.votes.get(slug, (0, 0)), dict(f.views.get(slug, {})))
             for slug in f.views.keys() | f.votes.keys()]
    return tuple(sorted(stats, key=lambda s: (-s.views, -s.votes, s.slug)))


def top_searches(activity: Activity, limit: int = 10) -> tuple[Count, ...]:
    """The queries searched most often in range, as typed (after normalization); ties
    alphabetically."""
    return tuple(Count(*pair) for pair in ranked(activity.facts.searched)[:limit])


__all__ = [
    "ArticleStats", "Count", "DayCount", "DayRate", "Durations", "ResponseTimes", "Satisfaction",
    "SelfService", "SessionFigures", "TicketVolume", "article_stats", "daily_self_service",
    "days_between",
    "durations", "local_midnight", "nearest_rank", "response_times", "satisfaction",
    "self_service", "session_summary", "ticket_volume", "tickets_in_range", "top_searches",
]
