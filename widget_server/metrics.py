"""Support and self-service metrics as pure functions over ticket dicts and event dicts.

Every figure covers a half-open range [since, until) of aware datetimes; per-day figures are
bucketed by the calendar day in a chosen time zone, so a range crossing midnight or a DST change
lands each item on the day a person in that zone would say. The exact definitions are in the
README's "Metrics" section and in each function's docstring.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from widget_server.events import parse_time

Event = Mapping[str, Any]
Ticket = Mapping[str, Any]
ENGAGED = {"search", "article_view"}


def event_time(event: Event) -> datetime:
    at = event.get("_at")
    return at if isinstance(at, datetime) else parse_time(str(event["at"]))


def in_range(moment: datetime, since: datetime, until: datetime) -> bool:
    return since <= moment < until


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


@dataclass
class Durations:
    """Median and 90th percentile of a set of durations, in seconds."""

    count: int
    median: float | None
    p90: float | None
    values: list[float] = field(default_factory=list, repr=False)


def durations(values: list[float]) -> Durations:
    median = statistics.median(values) if values else None
    return Durations(len(values), median, nearest_rank(values, 90), sorted(values))


def _sessions(events: Iterable[Event]) -> dict[str, list[Event]]:
    by_session: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.get("session"):
            by_session[str(event["session"])].append(event)
    for trail in by_session.values():
        trail.sort(key=event_time)
    return by_session


def session_summary(events: Iterable[Event]) -> dict[str, Any]:
    """Help sessions, self-service rate and search success.

    help_sessions: distinct session ids with any event. engaged_sessions: those with a search or
    an article view. self_served: engaged sessions without a ticket_created event.
    self_service_rate = self_served / engaged_sessions. A search succeeded when the same session
    viewed an article after it and before its next search; search_success_rate = successful /
    searches. zero_result_rate = searches with 0 results / searches. Rates are None without data.
    """
    sessions = _sessions(events)
    engaged = [t for t in sessions.values() if any(e["type"] in ENGAGED for e in t)]
    self_served = [t for t in engaged if not any(e["type"] == "ticket_created" for e in t)]
    searches = succeeded = zero = 0
    for trail in sessions.values():
        for i, event in enumerate(trail):
            if event["type"] != "search":
                continue
            searches += 1
            zero += int(event["data"].get("results") == 0)
            succeeded += int(_viewed_before_next_search(trail[i + 1 :]))
    return {
        "help_sessions": len(sessions),
        "engaged_sessions": len(engaged),
        "self_served_sessions": len(self_served),
        "self_service_rate": _ratio(len(self_served), len(engaged)),
        "searches": searches,
        "successful_searches": succeeded,
        "search_success_rate": _ratio(succeeded, searches),
        "zero_result_searches": zero,
        "zero_result_rate": _ratio(zero, searches),
    }


def _viewed_before_next_search(rest: list[Event]) -> bool:
    for event in rest:
        if event["type"] == "search":
            return False
        if event["type"] == "article_view":
            return True
    return False


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def daily_self_service(
    events: Iterable[Event], since: datetime, until: datetime, tz: ZoneInfo
) -> list[tuple[date, float | None, int]]:
    """(day, self-service rate, engaged sessions) per local day; a session counts on the day
    of its first search or article view."""
    events = list(events)
    first_day: dict[str, date] = {}
    for session, trail in _sessions(events).items():
        engaged = [e for e in trail if e["type"] in ENGAGED]
        if engaged:
            first_day[session] = event_time(engaged[0]).astimezone(tz).date()
    ticketed = {s for s, t in _sessions_with_ticket(events)}
    per_day: dict[date, list[bool]] = defaultdict(list)
    for session, day in first_day.items():
        per_day[day].append(session not in ticketed)
    return [
        (day, _ratio(sum(per_day[day]), len(per_day[day])), len(per_day[day]))
        for day in days_between(since, until, tz)
    ]


def _sessions_with_ticket(events: Iterable[Event]) -> Iterable[tuple[str, Event]]:
    return [(str(e["session"]), e) for e in events
            if e["type"] == "ticket_created" and e.get("session")]


def tickets_in_range(tickets: Iterable[Ticket], since: datetime, until: datetime) -> list[Ticket]:
    return [t for t in tickets if in_range(parse_time(t["created_at"]), since, until)]


def ticket_volume(
    tickets: Iterable[Ticket], since: datetime, until: datetime, tz: ZoneInfo
) -> dict[str, Any]:
    """Tickets created in range: total, per local day (every day listed) and per category."""
    chosen = tickets_in_range(tickets, since, until)
    per_day = Counter(parse_time(t["created_at"]).astimezone(tz).date() for t in chosen)
    per_category = Counter(t.get("category") or "uncategorized" for t in chosen)
    return {
        "total": len(chosen),
        "per_day": [(day, per_day[day]) for day in days_between(since, until, tz)],
        "per_category": per_category.most_common(),
    }


def response_times(tickets: Iterable[Ticket], since: datetime, until: datetime) -> dict[str, Any]:
    """First response and resolution times (seconds) of tickets created in range.

    FRT = first_reply_at - created_at, over tickets with a reply; the others count as
    "unanswered". Resolution = solved_at - created_at over tickets with solved_at (for a reopened
    ticket, its latest solve); the others count as "unresolved".
    """
    chosen = tickets_in_range(tickets, since, until)
    frt, resolution = [], []
    for ticket in chosen:
        created = parse_time(ticket["created_at"])
        if ticket.get("first_reply_at"):
            frt.append((parse_time(ticket["first_reply_at"]) - created).total_seconds())
        if ticket.get("solved_at"):
            resolution.append((parse_time(ticket["solved_at"]) - created).total_seconds())
    return {
        "first_response": durations(frt),
        "unanswered": len(chosen) - len(frt),
        "resolution": durations(resolution),
        "unresolved": len(chosen) - len(resolution),
    }


def satisfaction(tickets: Iterable[Ticket], since: datetime, until: datetime) -> dict[str, Any]:
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
    return {
        "ratings": len(ratings),
        "csat": _ratio(sum(1 for r in ratings if r["csat"] >= 4), len(ratings)),
        "ces": statistics.fmean(ces) if ces else None,
        "ces_answers": len(ces),
        "nps": (100 * (sum(n >= 9 for n in nps) - sum(n <= 6 for n in nps)) / len(nps))
        if nps else None,
        "nps_answers": len(nps),
    }


@dataclass
class ArticleStats:
    slug: str
    views: int = 0
    helpful: int = 0
    not_helpful: int = 0
    sources: Counter[str] = field(default_factory=Counter)

    @property
    def votes(self) -> int:
        return self.helpful + self.not_helpful

    @property
    def helpful_ratio(self) -> float | None:
        return _ratio(self.helpful, self.votes)


def article_stats(events: Iterable[Event]) -> list[ArticleStats]:
    """Views (by source) and helpful/not-helpful votes per article, most viewed first."""
    stats: dict[str, ArticleStats] = {}
    for event in events:
        slug = event["data"].get("slug")
        if not slug or event["type"] not in {"article_view", "vote"}:
            continue
        item = stats.setdefault(slug, ArticleStats(slug))
        if event["type"] == "article_view":
            item.views += 1
            item.sources[event["data"].get("source") or "unknown"] += 1
        elif event["data"].get("helpful"):
            item.helpful += 1
        else:
            item.not_helpful += 1
    return sorted(stats.values(), key=lambda s: (-s.views, -s.votes, s.slug))


def top_searches(events: Iterable[Event], limit: int = 10) -> list[tuple[str, int]]:
    counts = Counter(e["data"].get("query", "") for e in events if e["type"] == "search")
    counts.pop("", None)
    return counts.most_common(limit)


def summary(
    tickets: Iterable[Ticket],
    events: Iterable[Event],
    since: datetime,
    until: datetime,
    tz: ZoneInfo,
) -> dict[str, Any]:
    """Every metric for [since, until) in one dict (events must already be in range)."""
    tickets, events = list(tickets), [e for e in events if in_range(event_time(e), since, until)]
    return {
        "since": since,
        "until": until,
        "timezone": tz.key,
        "sessions": session_summary(events),
        "self_service_daily": daily_self_service(events, since, until, tz),
        "tickets": ticket_volume(tickets, since, until, tz),
        "times": response_times(tickets, since, until),
        "satisfaction": satisfaction(tickets, since, until),
        "articles": article_stats(events),
        "top_searches": top_searches(events),
    }


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


def to_jsonable(value: Any) -> Any:
    """The summary (or any part) as plain JSON types: dates as ISO strings."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, ArticleStats):
        return {"slug": value.slug, "views": value.views, "helpful": value.helpful,
                "not_helpful": value.not_helpful, "helpful_ratio": value.helpful_ratio,
                "sources": dict(value.sources)}
    if hasattr(value, "as_dict"):
        return to_jsonable(value.as_dict())
    if isinstance(value, Durations):
        return {k: v for k, v in asdict(value).items() if k != "values"}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


__all__ = [
    "ArticleStats", "Durations", "article_stats", "daily_self_service", "days_between",
    "event_time", "format_duration", "format_rate", "local_midnight", "response_times",
    "satisfaction", "session_summary",
    "summary", "ticket_volume", "to_jsonable", "top_searches",
]
