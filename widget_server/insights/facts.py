"""What a report needs from the events, folded once: `EventFacts`.

Every figure of the report that reads events reads one EventFacts, never the events. It is
small (counts, a row per query group, article or ticket) however many events a range holds,
so a store may compute it where the events are: `fold_events` here walks the events in Python
(the JSON and memory stores, and the definition of every fact), and the PostgreSQL event
store computes the same facts in SQL (insights/pg_facts.py). A test feeds both stores the same
events and asserts equal facts and equal reports.

The events of a fold are the report's history: [first, until), where `first` reaches back for
the spike baseline (report.report_span); session figures, gaps and article figures take the
events of [since, until) only, spikes the whole history.

Definitions (the README's "Metrics" section says the same for owners):

- A session's trail is its events in time order; events with the same time keep the order
  they were stored in. Events without a session count only where said.
- help_sessions: sessions with any event in range. engaged: those with a search or an article
  view. self-served: engaged sessions without a ticket_created. A session counts on the local
  day of its first search or article view.
- searches (trails only): a search succeeded when the next search or article view of its
  trail is an article view; zero-result: results == 0.
- The self-service funnel (engaged sessions; `hours`, the self_service_hours setting): a
  session searched, read (an article view, or a search that quoted an answer), voted, and
  escalated when it created a ticket at or after its first search or view and within `hours`
  of it. Not escalated, it is decided once those hours have passed by `until` (or by `now`,
  for a range that ends in the future): confirmed when
  it voted an article helpful, or was quoted an answer and closed the panel without opening
  the contact form; assumed otherwise. Undecided sessions are too recent to tell.
- Query groups: every non-empty query of the history, grouped by meaning
  (queries.cluster_queries) from their counts.
- Ties are broken alphabetically (a spelling, a slug), never by arrival, so any store that
  holds the same events gives the same facts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from ..events import (
    ARTICLE_VIEW,
    CONTACT_OPEN,
    ENGAGED,
    SEARCH,
    TICKET_CREATED,
    VOTE,
    WIDGET_CLOSE,
    parse_time,
)
from ..queries import Cluster, cluster_queries

Event = Mapping[str, Any]


def event_time(event: Event) -> datetime:
    at = event.get("_at")
    return at if isinstance(at, datetime) else parse_time(str(event["at"]))


def search_query(event: Event) -> str:
    """The query of a search event, "" for any other event or a search without one."""
    return str(event["data"].get("query") or "") if event["type"] == SEARCH else ""


def ranked(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """(name, count) most first, ties alphabetically: the one order every list here uses."""
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


@dataclass(frozen=True)
class QueryGroups:
    """Search queries grouped by meaning: "refund", "refunds" and "refnd" share one key."""

    clusters: Mapping[str, Cluster]

    @classmethod
    def of(cls, queries: Iterable[str]) -> QueryGroups:
        return cls.counted(Counter(q for q in queries if q))

    @classmethod
    def counted(cls, counts: Mapping[str, int]) -> QueryGroups:
        """Groups from each query's count; the same counts give the same groups in any order."""
        return cls(cluster_queries(dict(ranked({q: n for q, n in counts.items() if q}))))

    def key(self, query: str) -> str:
        """The group of a query that was grouped (a KeyError for any other)."""
        return self.clusters[query].key

    def __contains__(self, query: object) -> bool:
        return query in self.clusters

    def __iter__(self) -> Iterator[str]:
        return iter(self.clusters)


@dataclass(frozen=True)
class ZeroFacts:
    """One query group's zero-result searches in range (every search, session or not)."""

    variants: Mapping[str, int]  # zero-result searches per spelling
    sessions: int  # distinct sessions among them; searches without a session count as one
    found: bool  # a search of the group in range did find something (results != 0)


SELF_SERVICE_HOURS = 24  # the setting's default


class Funnel(NamedTuple):
    """The self-service funnel of a range's engaged sessions (module docstring)."""

    engaged: int = 0
    searched: int = 0
    read: int = 0
    voted: int = 0
    escalated: int = 0
    confirmed: int = 0
    assumed: int = 0
    recent: int = 0
    hours: int = SELF_SERVICE_HOURS  # the window these were decided with

    def as_dict(self) -> dict[str, int]:
        return self._asdict()


class TicketSearch(NamedTuple):
    """A ticket_created in range and one query group its session searched before it: the
    group's latest search then (its spelling and whether it found anything)."""

    at: datetime
    session: str
    reference: str
    group: str
    query: str
    found: bool


class Downvote(NamedTuple):
    """A not-helpful vote (with a slug, in a session) in range."""

    at: datetime
    slug: str
    reason: str  # as stored: a VOTE_REASONS code, older free text, or ""
    comment: str


class TicketAfter(NamedTuple):
    """A ticket_created that followed not-helpful votes on `slug` in its session (after any
    earlier ticket of that session)."""

    at: datetime
    slug: str
    reference: str


@dataclass(frozen=True)
class EventFacts:
    """Everything the report reads from events (see the module docstring for definitions)."""

    timezone: str  # the zone `engaged_days` buckets by
    help_sessions: int = 0
    engaged_sessions: int = 0
    self_served_sessions: int = 0
    engaged_days: Mapping[date, tuple[int, int]] = field(default_factory=dict)  # engaged, self-served
    searches: int = 0  # trails only, as the next two
    successful_searches: int = 0
    zero_result_searches: int = 0
    searched: Mapping[str, int] = field(default_factory=dict)  # range: searches per query
    zero: Mapping[str, ZeroFacts] = field(default_factory=dict)  # range: by query group
    group_sessions: Mapping[str, int] = field(default_factory=dict)  # trails: sessions per group
    ticket_searches: tuple[TicketSearch, ...] = ()  # in time order
    views: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # slug: source: views
    votes: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # slug: helpful, not
    trail_votes: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # trails only
    downvotes: tuple[Downvote, ...] = ()  # trails only, in time order
    tickets_after: tuple[TicketAfter, ...] = ()  # in time order
    failed: tuple[tuple[str, datetime], ...] = ()  # history: zero-result (query, at), as stored
    queries: QueryGroups = field(default_factory=lambda: QueryGroups({}))
    funnel: Funnel = Funnel()


def fold_events(history: Iterable[Event], since: datetime | None, until: datetime | None,
                tz: ZoneInfo, hours: int = SELF_SERVICE_HOURS,
                now: datetime | None = None) -> EventFacts:
    """The facts of `history` (in the order stored) for the range [since, until), None: no
    bound. The reference definition; the PostgreSQL store must agree with it exactly."""
    history = list(history)
    queries = QueryGroups.of(search_query(e) for e in history)
    ranged: list[tuple[int, Event]] = []
    failed: list[tuple[str, datetime]] = []
    for order, event in enumerate(history):
        at = event_time(event)
        query = search_query(event)
        if query and event["data"].get("results") == 0:
            failed.append((query, at))
        if (since is None or at >= since) and (until is None or at < until):
            ranged.append((order, event))
    trails: dict[str, list[tuple[int, Event]]] = {}
    for order, event in ranged:
        if event.get("session"):
            trails.setdefault(str(event["session"]), []).append((order, event))
    for trail in trails.values():
        trail.sort(key=lambda item: event_time(item[1]))  # stable: stored order breaks ties
    return EventFacts(timezone=tz.key, **_sessions(trails, tz), **_searches(ranged, queries),
                      **_ticket_searches(trails, queries), **_articles(ranged, trails),
                      failed=tuple(failed), queries=queries,
                      funnel=_funnel(trails, decided_by(until, now), hours))


Trails = Mapping[str, list[tuple[int, Event]]]


def _sessions(trails: Trails, tz: ZoneInfo) -> dict[str, Any]:
    days: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    engaged = served = searches = succeeded = zero = 0
    for trail in trails.values():
        kinds = [e["type"] for _, e in trail]
        first = next((e for _, e in trail if e["type"] in ENGAGED), None)
        if first is not None:
            engaged += 1
            row = days[event_time(first).astimezone(tz).date()]
            row[0] += 1
            if TICKET_CREATED not in kinds:
                served += 1
                row[1] += 1
        for i, (_, event) in enumerate(trail):
            if event["type"] != SEARCH:
                continue
            searches += 1
            zero += int(event["data"].get("results") == 0)
            after = next((k for k in kinds[i + 1:] if k in ENGAGED), None)
            succeeded += int(after == ARTICLE_VIEW)
    return {"help_sessions": len(trails), "engaged_sessions": engaged,
            "self_served_sessions": served,
            "engaged_days": {d: (row[0], row[1]) for d, row in sorted(days.items())},
            "searches": searches, "successful_searches": succeeded,
            "zero_result_searches": zero}


def decided_by(until: datetime | None, now: datetime | None) -> datetime | None:
    """The time by which a session's hours must have passed: the range's end, or now."""
    return now if until is None or (now is not None and now < until) else until


def _funnel(trails: Trails, until: datetime | None, hours: int) -> Funnel:
    window = timedelta(hours=hours)
    counts = Counter[str]()
    for trail in trails.values():
        events = [e for _, e in trail]
        engaged = [event_time(e) for e in events if e["type"] in ENGAGED]
        if not engaged:
            continue
        start = engaged[0]
        kinds = {e["type"] for e in events}
        answered = any(e["type"] == SEARCH and e["data"].get("answer") for e in events)
        counts["engaged"] += 1
        counts["searched"] += SEARCH in kinds
        counts["read"] += ARTICLE_VIEW in kinds or answered
        counts["voted"] += VOTE in kinds
        if any(e["type"] == TICKET_CREATED and start <= event_time(e) <= start + window
               for e in events):
            counts["escalated"] += 1
        elif until is not None and start + window > until:
            counts["recent"] += 1
        elif (any(e["type"] == VOTE and e["data"].get("helpful") for e in events)
              or (answered and WIDGET_CLOSE in kinds and CONTACT_OPEN not in kinds)):
            counts["confirmed"] += 1
        else:
            counts["assumed"] += 1
    return Funnel(**counts, hours=hours)


def _searches(ranged: list[tuple[int, Event]], queries: QueryGroups) -> dict[str, Any]:
    searched: Counter[str] = Counter()
    variants: dict[str, Counter[str]] = defaultdict(Counter)
    sessions: dict[str, set[str | None]] = defaultdict(set)
    found: set[str] = set()
    for _, event in ranged:
        query = search_query(event)
        if not query:
            continue
        searched[query] += 1
        group = queries.key(query)
        if event["data"].get("results") == 0:
            variants[group][query] += 1
            sessions[group].add(event.get("session") or None)
        else:
            found.add(group)
    zero = {g: ZeroFacts(dict(ranked(v)), len(sessions[g]), g in found)
            for g, v in sorted(variants.items())}
    return {"searched": dict(ranked(searched)), "zero": zero}


def _ticket_searches(trails: Trails, queries: QueryGroups) -> dict[str, Any]:
    group_sessions: Counter[str] = Counter()
    rows: list[tuple[int, TicketSearch]] = []
    for session, trail in trails.items():
        latest: dict[str, Event] = {}
        for order, event in trail:
            query = search_query(event)
            if query:
                latest[queries.key(query)] = event
            elif event["type"] == TICKET_CREATED:
                rows.extend((order, TicketSearch(event_time(event), session,
                                         str(event["data"].get("reference") or ""), group,
                                         search_query(search),
                                         bool(search["data"].get("results"))))
                            for group, search in sorted(latest.items()))
        group_sessions.update({queries.key(q) for _, e in trail if (q := search_query(e))})
    rows.sort(key=lambda r: (r[1].at, r[0], r[1].group))
    return {"group_sessions": dict(sorted(group_sessions.items())),
            "ticket_searches": tuple(row for _, row in rows)}


def _articles(ranged: list[tuple[int, Event]], trails: Trails) -> dict[str, Any]:
    views: dict[str, Counter[str]] = defaultdict(Counter)
    votes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _, event in ranged:
        slug = event["data"].get("slug")
        if not slug:
            continue
        if event["type"] == ARTICLE_VIEW:
            views[slug][event["data"].get("source") or "unknown"] += 1
        elif event["type"] == VOTE:
            votes[slug][0 if event["data"].get("helpful") else 1] += 1
    trail_votes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    downvotes: list[tuple[int, Downvote]] = []
    after: list[tuple[int, TicketAfter]] = []
    for trail in trails.values():
        pending: set[str] = set()
        for order, event in trail:
            slug = event["data"].get("slug")
            if event["type"] == VOTE and slug:
                helpful = bool(event["data"].get("helpful"))
                trail_votes[slug][0 if helpful else 1] += 1
                if not helpful:
                    pending.add(slug)
                    downvotes.append((order, Downvote(
                        event_time(event), slug, str(event["data"].get("reason") or ""),
                        str(event["data"].get("comment") or ""))))
            elif event["type"] == TICKET_CREATED:
                after.extend((order, TicketAfter(event_time(event), s,
                                                 str(event["data"].get("reference") or "")))
                             for s in sorted(pending))
                pending = set()
    downvotes.sort(key=lambda d: (d[1].at, d[0]))
    after.sort(key=lambda t: (t[1].at, t[0], t[1].slug))
    return {"views": {s: dict(ranked(c)) for s, c in sorted(views.items())},
            "votes": {s: (v[0], v[1]) for s, v in sorted(votes.items())},
            "trail_votes": {s: (v[0], v[1]) for s, v in sorted(trail_votes.items())},
            "downvotes": tuple(d for _, d in downvotes),
            "tickets_after": tuple(t for _, t in after)}


__all__ = ["SELF_SERVICE_HOURS", "Downvote", "EventFacts", "Funnel", "QueryGroups", "TicketAfter",
           "TicketSearch", "ZeroFacts", "decided_by", "event_time", "fold_events", "ranked",
           "search_query"]
