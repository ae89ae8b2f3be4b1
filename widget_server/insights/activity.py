"""What one report reads, prepared once: events in range, sessions, every query grouped.

`Activity.build(tickets, events, since, until)` keeps the events of [since, until), groups them
by help session (each session's events in time order) and groups every search query it was
given, range and spike baseline alike, by meaning (queries.cluster_queries), exactly once.
Metrics, content gaps and spikes all read the same Activity, so a query that is one gap row is
also one spike topic and a session is the same session everywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..events import SEARCH, parse_time
from ..queries import Cluster, cluster_queries

Event = Mapping[str, Any]
Ticket = Mapping[str, Any]


def event_time(event: Event) -> datetime:
    at = event.get("_at")
    return at if isinstance(at, datetime) else parse_time(str(event["at"]))


def in_range(moment: datetime, since: datetime, until: datetime) -> bool:
    return since <= moment < until


def search_query(event: Event) -> str:
    """The query of a search event, "" for any other event or a search without one."""
    return str(event["data"].get("query") or "") if event["type"] == SEARCH else ""


@dataclass(frozen=True)
class QueryGroups:
    """Search queries grouped by meaning: "refund", "refunds" and "refnd" share one key."""

    clusters: Mapping[str, Cluster]

    @classmethod
    def of(cls, queries: Iterable[str]) -> QueryGroups:
        return cls(cluster_queries(Counter(q for q in queries if q)))

    def key(self, query: str) -> str:
        """The group of a query that was grouped (a KeyError for any other)."""
        return self.clusters[query].key

    def __contains__(self, query: object) -> bool:
        return query in self.clusters

    def __iter__(self) -> Iterator[str]:
        return iter(self.clusters)


@dataclass(frozen=True)
class Activity:
    """Everything one report reads, grouped once (see the module docstring)."""

    tickets: tuple[Ticket, ...]  # every ticket read; each ticket metric picks its own range
    events: tuple[Event, ...]  # the events in the report's range, in the order they were read
    sessions: Mapping[str, tuple[Event, ...]]  # those events by session, each in time order
    history: tuple[Event, ...]  # every event read: the range and the spike baseline before it
    queries: QueryGroups  # every search query of `history`, grouped by meaning

    @classmethod
    def build(cls, tickets: Iterable[Ticket], events: Iterable[Event],
              since: datetime | None = None, until: datetime | None = None) -> Activity:
        """Group once; events outside [since, until) only count for spikes (None: no bound)."""
        history = tuple(events)
        ranged = tuple(e for e in history
                       if (since is None or event_time(e) >= since)
                       and (until is None or event_time(e) < until))
        return cls(
            tickets=tuple(tickets),
            events=ranged,
            sessions=_by_session(ranged),
            history=history,
            queries=QueryGroups.of(search_query(e) for e in history),
        )


def _by_session(events: Iterable[Event]) -> dict[str, tuple[Event, ...]]:
    """Events with a session, by session in order of first appearance, each in time order."""
    grouped: dict[str, list[Event]] = {}
    for event in events:
        if event.get("session"):
            grouped.setdefault(str(event["session"]), []).append(event)
    return {s: tuple(sorted(trail, key=event_time)) for s, trail in grouped.items()}


__all__ = ["Activity", "Event", "QueryGroups", "Ticket", "event_time", "in_range",
           "search_query"]
