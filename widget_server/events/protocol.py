"""The EventStore protocol: what Deskbell needs from wherever self-service events are kept.

    append(session, type, data, at=None)   one event, durable when it returns
    append_many(events) -> int              a batch of NewEvent, all or nothing where the store
                                            can promise it (PostgreSQL, memory; the JSON store
                                            writes one day file after another)
    iter_events(since, until)               events with since <= at < until, UTC day by
                                            day, each day's in the order written (time
                                            order, as events are stamped when written)
    count(since, until) / days()            how many there are; the UTC days that hold any
    purge(today)                            retention: delete the days older than
                                            `retention_days` (None: keep everything)
    check() / close()                       raise if unreadable; let go of connections

Every store writes only what `encode` accepts (the registry's vocabulary, the session rule,
at most MAX_EVENT_BYTES as a JSON line), refuses a day past `max_day_bytes` with EventsFull,
and reads every event back as the same dict: ``{"at": iso-utc, "session": "s_..."|None,
"type": str, "data": {...}, "_at": aware datetime}``, "at" being exactly the text the JSON
store writes. `event_key` names an event by that content, for copying between stores.

EventStore is a base class rather than a typing.Protocol so that every annotation written
before there was more than one store (the helpdesk's, the services', the tests') keeps meaning
"any event store"; and calling EventStore(data_dir, ...) itself still builds the JSON store,
as it always did (as pathlib.Path builds a PosixPath). The stores are:

    store.py     JSONEventStore (the default, one JSON-lines file per UTC day) and
                 MemoryEventStore (lost on exit; tests and demos)
    postgres.py  PostgresEventStore (a table shared by every machine; imported on demand)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Self, cast
from zoneinfo import ZoneInfo

from ..errors import InsufficientStorage, ValidationFailed
from .registry import SEARCH, SESSION_PROBLEM, TICKET_CREATED, is_session, vocabulary_problems

if TYPE_CHECKING:
    from ..insights.facts import EventFacts

MAX_EVENT_BYTES = 4096
DEFAULT_MAX_DAY_BYTES = 100 * 1024 * 1024
Event = dict[str, Any]  # as read: at, session, type, data, and _at the parsed time


class EventsFull(InsufficientStorage):
    """Today's event file reached its size cap; further events are refused until tomorrow."""

    code = "events_full"


@dataclass(frozen=True)
class NewEvent:
    """One event waiting to be written by `EventStore.append_many`."""

    session: str | None
    type: str
    data: Mapping[str, Any]
    at: datetime | None = None


@dataclass(frozen=True)
class Encoded:
    """An event checked and serialized as every store writes it."""

    at: datetime  # in UTC
    session: str | None
    type: str
    data: str  # the data object as JSON text, exactly as the line holds it
    line: bytes  # the whole record as one JSON line, newline included
    fields: Mapping[str, Any] = field(default_factory=dict, compare=False)  # the data, parsed

    @property
    def day(self) -> date:
        return self.at.date()


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time; a naive time is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encode(item: NewEvent, now: datetime) -> Encoded:
    """`item` as stored, or ValidationFailed: a session the widget could not have made, a type
    or data field the registry does not declare, a line over MAX_EVENT_BYTES, or text no
    encoding can hold (a lone surrogate)."""
    if item.session is not None and not is_session(item.session):
        raise ValidationFailed("bad session id", {"session": SESSION_PROBLEM})
    problems = vocabulary_problems(item.type, item.data)
    if problems:
        raise ValidationFailed("event not in the vocabulary (events/registry.py)", problems)
    at = (item.at or now).astimezone(UTC)
    data = dict(item.data)
    record = {"at": at.isoformat(), "session": item.session, "type": item.type, "data": data}
    try:
        line = _json(record).encode() + b"\n"
    except UnicodeEncodeError:
        raise ValidationFailed("event not storable",
                               {"data": "contains an invalid character"}) from None
    if len(line) > MAX_EVENT_BYTES:
        raise ValidationFailed("event too large", {"data": f"at most {MAX_EVENT_BYTES} bytes"})
    return Encoded(at, item.session, item.type, _json(data), line, data)


def decode(raw: bytes | str) -> Event | None:
    """One stored JSON line as an event, or None for a torn or foreign line."""
    try:
        record = json.loads(raw)
        if not isinstance(record, dict) or not isinstance(record.get("data"), dict):
            return None
        record["_at"] = parse_time(record["at"])
        if not isinstance(record.get("type"), str):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return record


def event_key(event: Mapping[str, Any]) -> bytes:
    """What an event read from any store is, as bytes: its JSON line with the time in the one
    form stores write (UTC, isoformat). Two events with the same key are the same event as far
    as anyone can tell; a store may legitimately hold several (a batch shares one instant)."""
    at = event["_at"].astimezone(UTC).isoformat()
    return _json({"at": at, "session": event["session"], "type": event["type"],
                  "data": event["data"]}).encode()


class EventStore:
    """The protocol every event store implements (see the module docstring)."""

    retention_days: int | None
    max_day_bytes: int

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        if cls is EventStore:  # EventStore(data_dir, ...): the JSON store, as always
            from .store import JSONEventStore

            return cast(Self, object.__new__(JSONEventStore))
        return object.__new__(cls)

    @classmethod
    def from_settings(cls, settings: Any) -> EventStore:
        """The store the `event_store` setting names (tickets/factory.py, open_event_store);
        a subclass's from_settings opens that kind of store."""
        from ..tickets.factory import open_event_store

        return open_event_store(settings)

    def append(
        self, session: str | None, type: str, data: Mapping[str, Any], at: datetime | None = None
    ) -> None:
        """Write one event durably; raises ValidationFailed or EventsFull."""
        self.append_many([NewEvent(session, type, data, at)])

    def append_many(self, events: Iterable[NewEvent]) -> int:
        """Write events durably; returns how many. ValidationFailed stores none of them."""
        raise NotImplementedError

    def iter_events(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Event]:
        """Events with since <= at < until, UTC day by day, each in the order written."""
        raise NotImplementedError

    def count(self, since: datetime | None = None, until: datetime | None = None) -> int:
        """How many events iter_events(since, until) gives."""
        return sum(1 for _ in self.iter_events(since, until))

    def days(self) -> list[date]:
        """The UTC days that hold events, oldest first."""
        raise NotImplementedError

    def iter_searches_and_tickets(self, since: datetime,
                                  until: datetime) -> Iterator[Mapping[str, Any]]:
        """The search and ticket_created events of [since, until) in stored order, with
        what a before/after comparison reads (insights/coverage.py): `type`, `session`, the
        time, and as data only a search's `query` and `results`. This filters iter_events;
        PostgreSQL reads the report columns instead of parsing every event's data."""
        for event in self.iter_events(since, until):
            if event["type"] in (SEARCH, TICKET_CREATED):
                yield event

    def report_facts(self, first: datetime, since: datetime, until: datetime,
                     tz: ZoneInfo, hours: int = 24, now: datetime | None = None) -> EventFacts:
        """What a report over [since, until) reads from the events of [first, until)
        (insights/facts.py). This folds iter_events in Python, the definition; a store may
        compute the same facts where its events are (PostgreSQL: in SQL)."""
        from ..insights.facts import fold_events

        return fold_events(self.iter_events(first, until), since, until, tz, hours, now)

    def vote_counts(self, since: datetime, until: datetime) -> dict[str, tuple[int, int]]:
        """(helpful, not helpful) votes per slug named, over [since, until)
        (insights/freshness.py count_votes over iter_events; PostgreSQL counts in SQL)."""
        from ..insights.freshness import count_votes

        return count_votes(self.iter_events(since, until), since, until)

    def purge(self, today: date | None = None) -> Sequence[object]:
        """Delete the days older than the retention period; returns what was deleted."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise a StorageUnavailable naming the problem if the store cannot be read."""

    def close(self) -> None:
        """Let go of what the store holds open (a pool); it cannot be used afterwards."""


__all__ = ["DEFAULT_MAX_DAY_BYTES", "MAX_EVENT_BYTES", "Encoded", "Event", "EventStore",
           "EventsFull", "NewEvent", "decode", "encode", "event_key", "parse_time", "utc_now"]
