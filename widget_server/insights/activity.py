"""What one report reads, prepared once: the tickets and the events' facts.

`Activity.build(tickets, events, since, until, tz)` folds the events once (facts.fold_events:
sessions, searches and every query grouped by meaning); a store that can compute the same
facts itself (the PostgreSQL event store, in SQL) hands them over as `Activity(tickets,
facts)`. Metrics, content gaps and spikes all read the same Activity, so a query that is one
gap row is also one spike topic and a session is the same session everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .facts import Event, EventFacts, QueryGroups, event_time, fold_events, search_query

Ticket = Mapping[str, Any]


def in_range(moment: datetime, since: datetime, until: datetime) -> bool:
    return since <= moment < until


@dataclass(frozen=True)
class Activity:
    """Everything one report reads (see the module docstring)."""

    tickets: tuple[Ticket, ...]  # every ticket read; each ticket metric picks its own range
    facts: EventFacts

    @property
    def queries(self) -> QueryGroups:
        """Every search query of the history, grouped by meaning."""
        return self.facts.queries

    @classmethod
    def build(cls, tickets: Iterable[Ticket], events: Iterable[Event],
              since: datetime | None = None, until: datetime | None = None,
              tz: ZoneInfo | None = None) -> Activity:
        """Fold once; events outside [since, until) only count for spikes (None: no bound);
        sessions are put on days in `tz` (UTC by default)."""
        zone = tz or ZoneInfo("UTC")
        return cls(tuple(tickets), fold_events(events, since, until, zone))


__all__ = ["Activity", "Event", "QueryGroups", "Ticket", "event_time", "in_range",
           "search_query"]
