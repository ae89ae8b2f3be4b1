"""PostgresEventStore: self-service events in a PostgreSQL table, shared by every machine that
reaches the database (`event_store = "postgresql://…"`).

Layout: the `events` and `event_days` tables of migrations/postgresql/0002_events.sql, in the
schema the ticket store uses (one `deskbell db upgrade` migrates both). One row per event: its
time (timestamptz), session, type and data; the data is PostgreSQL `json`, which keeps the
text exactly as `protocol.encode` wrote it, so an event reads back as the very dict the JSON
store gives for the same append, key order and all.

The protocol's promises, kept by the database:

- `append_many` validates every event first (protocol.encode: the registry's vocabulary, the
  session rule, MAX_EVENT_BYTES), exactly as the JSON store does, then writes the batch with one
  COPY in one transaction: all of it is stored, or none (the JSON store, by contrast, writes one
  day file after another).
- The daily cap (`max_day_bytes`, events_max_day_mb) counts what the day's events would take
  as JSON lines, kept per UTC day in `event_days` and raised in the same transaction: a batch
  that would pass the cap is refused whole with EventsFull (507). The day's row is locked only
  from that update to the commit, so concurrent writers wait for each other about one commit.
- `iter_events` reads day by day (UTC), each day's events in the order they were written:
  (day, seq), the JSON store's order (one file per day, appended to), so both stores give the
  same list for the same appends, and every report computed from them is the same. Events are
  stamped when written, so that is time order, but for events written later with an explicit
  older time (a seed, `deskbell migrate-store`), which come where they were written, as in a
  day file. BATCH rows per query through the (day, seq) index, no connection held between.
- Retention deletes whole UTC days: `DELETE … WHERE day < cutoff` through the same index,
  when the store opens and on the first write of each day, as the JSON store unlinks day files.
  A plain indexed table rather than one native partition per day (where retention would be a
  DROP): partitions would need DDL at run time, by the role that serves requests, raced by
  every node creating tomorrow's partition, outside the versioned migrations `deskbell db
  upgrade` applies; a help desk's events (at most events_max_day_mb a day, 100 MB by default)
  are few enough for a daily indexed DELETE, and autovacuum reuses the space. Should that
  change, a migration can partition the table without changing this module's queries.
- Connection trouble is StorageUnavailable naming PostgreSQL (503), a full disk
  InsufficientStorage (507): pg.Database, as for tickets.

NUL: jsonb cannot hold \\u0000, and text cannot hold the character itself. Event data is `json`,
which keeps the escape "\\u0000" as written, so an event whose data holds a NUL character is
stored and read back exactly as by the JSON store (which writes the same escape); sessions and
types never hold one (the session rule and the registry refuse it). Only SQL that extracts such
a value as text (data->>'reason') fails on it; Deskbell never does.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from ..pg import Database
from .protocol import (
    DEFAULT_MAX_DAY_BYTES,
    Encoded,
    Event,
    EventsFull,
    EventStore,
    NewEvent,
    encode,
    parse_time,
    utc_now,
)
from .registry import ARTICLE_VIEW, SEARCH, TICKET_CREATED, VOTE

if TYPE_CHECKING:
    from ..insights.facts import EventFacts

log = logging.getLogger("deskbell.events")
BATCH = 2000  # events fetched per round trip by iter_events
_COPY = ("COPY events (day, at, session, type, data, query, results, slug, source, helpful,"
         " reference) FROM STDIN")
MAX_RESULTS_COLUMN = 999_999_999
_COUNT_DAY = ("INSERT INTO event_days (day, bytes, events) VALUES (%s, %s, %s)"
              " ON CONFLICT (day) DO UPDATE SET bytes = event_days.bytes + EXCLUDED.bytes,"
              " events = event_days.events + EXCLUDED.events RETURNING bytes")


class PostgresEventStore(EventStore):
    """Events in PostgreSQL through a connection pool (see the module docstring)."""

    def __init__(self, url: str, *, retention_days: int | None = 180,
                 max_day_bytes: int = DEFAULT_MAX_DAY_BYTES, schema: str | None = None,
                 min_size: int = 1, max_size: int = 8, timeout: float = 5.0,
                 connect_timeout: int = 5, reconnect_timeout: float = 15.0) -> None:
        """Connect once to check the schema (StorageUnavailable says why not), pool, and apply
        retention (see pg.Database for the connection arguments)."""
        self.retention_days = retention_days
        self.max_day_bytes = max_day_bytes
        self._db = Database(url, what="event", logger=log, schema=schema, min_size=min_size,
                            max_size=max_size, timeout=timeout,
                            connect_timeout=connect_timeout,
                            reconnect_timeout=reconnect_timeout)
        self._last_purge: date | None = None
        self._purging = threading.Lock()
        try:
            self.purge()
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def from_settings(cls, settings: Any) -> PostgresEventStore:
        """The store at the `event_store` URL, with events_retention_days and events_max_day_mb."""
        return cls(str(settings.event_store), retention_days=settings.events_retention_days,
                   max_day_bytes=settings.events_max_day_mb * 1024 * 1024)

    def close(self) -> None:
        self._db.close()

    def check(self) -> None:
        self._db.check()

    def _transaction(self) -> AbstractContextManager[psycopg.Connection]:
        return self._db.transaction()

    # -- writes

    def append_many(self, events: Iterable[NewEvent]) -> int:
        """Write the batch in one transaction (all or nothing); returns how many."""
        now = utc_now()
        batch = [encode(item, now) for item in events]  # refused before a connection is taken
        if not batch:
            return 0
        self._purge_daily(now.date())
        with self._transaction() as conn:
            self._insert(conn, batch)
        return len(batch)

    def _insert(self, conn: psycopg.Connection, batch: list[Encoded]) -> None:
        per_day: dict[date, tuple[int, int]] = {}
        with conn.cursor() as cur, cur.copy(_COPY) as copy:
            for item in batch:
                copy.write_row((item.day, item.at, item.session, item.type, item.data,
                                *report_columns(item.type, item.fields)))
                size, count = per_day.get(item.day, (0, 0))
                per_day[item.day] = (size + len(item.line), count + 1)
        # Days in order, so two batches spanning the same days lock their rows alike.
        for day, (size, count) in sorted(per_day.items()):
            row = conn.execute(_COUNT_DAY, (day, size, count)).fetchone()
            if row is not None and int(row[0]) > self.max_day_bytes:
                raise EventsFull(f"event log for {day.isoformat()} reached its daily size cap")

    # -- reads

    @staticmethod
    def _range(since: datetime | None, until: datetime | None
               ) -> tuple[list[sql.Composable], dict[str, Any]]:
        """The WHERE conditions of [since, until): on `day` too, so the index narrows it."""
        conditions: list[sql.Composable] = []
        params: dict[str, Any] = {}
        if since is not None:
            conditions.append(sql.SQL("day >= %(first)s AND at >= %(since)s"))
            params.update(first=since.astimezone(UTC).date(), since=since)
        if until is not None:
            conditions.append(sql.SQL("day <= %(last)s AND at < %(until)s"))
            params.update(last=until.astimezone(UTC).date(), until=until)
        return conditions, params

    def iter_events(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Event]:
        """Events with since <= at < until, day by day in the order written, BATCH per query
        (a caller may stop early: no connection is held between batches)."""
        conditions, params = self._range(since, until)
        after = sql.SQL("(day, seq) > (%(after_day)s, %(after_seq)s)")
        page = sql.SQL("SELECT seq, day, at, session, type, data::text FROM events WHERE {} "
                       "ORDER BY day, seq LIMIT %(batch)s")
        params["batch"] = BATCH
        where: list[sql.Composable] = list(conditions)
        while True:
            query = page.format(sql.SQL(" AND ").join(where) if where else sql.SQL("TRUE"))
            with self._transaction() as conn:
                rows = conn.execute(query, params).fetchall()
            for _, _, at, session, kind, data in rows:
                yield _event(at, session, kind, data)
            if len(rows) < BATCH:
                return
            params["after_seq"], params["after_day"] = rows[-1][0], rows[-1][1]
            where = [*conditions, after]

    def iter_searches_and_tickets(self, since: datetime,
                                  until: datetime) -> Iterator[Mapping[str, Any]]:
        """From the report columns through the (type, at) index, in stored order; the data
        holds a search's query and results (as the columns have them) and nothing else."""
        conditions, params = self._range(since, until)
        params.update(t_search=SEARCH, t_ticket=TICKET_CREATED)
        query = sql.SQL("SELECT at, session, type, query, results FROM events WHERE {} AND"
                        " type IN (%(t_search)s, %(t_ticket)s) ORDER BY day, seq").format(
            sql.SQL(" AND ").join(conditions))
        with self._transaction() as conn, conn.cursor() as cur:
            rows = cur.execute(query, params).fetchall()
        for at, session, kind, text, results in rows:
            data = {"query": text or "", "results": results} if kind == SEARCH else {}
            yield {"at": at.astimezone(UTC).isoformat(), "session": session, "type": kind,
                   "data": data, "_at": at}

    def report_facts(self, first: datetime, since: datetime, until: datetime,
                     tz: ZoneInfo, hours: int = 24, now: datetime | None = None) -> EventFacts:
        """The report's facts computed by the database (insights/pg_facts.py): equal to
        folding iter_events(first, until) in Python. The session figures and the article
        figures (pg_facts.side_facts) run meanwhile on two more connections that import this
        transaction's snapshot, so every part sees exactly the same events."""
        from ..insights import pg_facts

        with self._transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            snapshot = str(row[0]) if row else ""
            params = pg_facts.report_params(first, since, until, tz, hours, now)
            with ThreadPoolExecutor(2) as pool:
                parts = [pool.submit(self._part, part, snapshot, params)
                         for part in (pg_facts.session_facts, pg_facts.article_facts)]
                return pg_facts.postgres_facts(
                    conn, first, since, until, tz, hours, now,
                    side=lambda: {k: v for part in parts for k, v in part.result().items()})

    def _part(self, part: Callable[[psycopg.Connection, dict[str, Any]], dict[str, Any]],
              snapshot: str, params: dict[str, Any]) -> dict[str, Any]:
        """One part of the report's facts, on a connection of its own in `snapshot`."""
        from ..insights import pg_facts

        with self._transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
            pg_facts.prepare(conn)
            return part(conn, params)

    def vote_counts(self, since: datetime, until: datetime) -> dict[str, tuple[int, int]]:
        """The votes per slug, counted through the (type, at) index and the report columns."""
        conditions, params = self._range(since, until)
        query = sql.SQL("SELECT slug, count(*) FILTER (WHERE helpful),"
                        " count(*) FILTER (WHERE NOT helpful) FROM events WHERE {}"
                        " AND type = %(t_vote)s AND slug <> '' GROUP BY slug ORDER BY slug").format(
            sql.SQL(" AND ").join(conditions))
        params["t_vote"] = VOTE
        with self._transaction() as conn:
            rows = conn.execute(query, params).fetchall()
        return {slug: (int(yes), int(no)) for slug, yes, no in rows}

    def count(self, since: datetime | None = None, until: datetime | None = None) -> int:
        conditions, params = self._range(since, until)
        query = sql.SQL("SELECT count(*) FROM events WHERE {}").format(
            sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("TRUE"))
        with self._transaction() as conn:
            row = conn.execute(query, params).fetchone()
        return int(row[0]) if row else 0

    def days(self) -> list[date]:
        with self._transaction() as conn:
            rows = conn.execute("SELECT day FROM event_days ORDER BY day").fetchall()
        return [row[0] for row in rows]

    # -- retention

    def purge(self, today: date | None = None) -> list[date]:
        """Delete the UTC days older than the retention period (their events and their
        event_days row, in one transaction); returns those days."""
        today = today or utc_now().date()
        removed: list[date] = []
        if self.retention_days is not None:
            cutoff = today - timedelta(days=self.retention_days)
            with self._transaction() as conn:
                rows = conn.execute("DELETE FROM event_days WHERE day < %s RETURNING day",
                                    (cutoff,)).fetchall()
                conn.execute("DELETE FROM events WHERE day < %s", (cutoff,))
            removed = sorted(row[0] for row in rows)
        self._last_purge = today
        return removed

    def _purge_daily(self, today: date) -> None:
        if self._last_purge != today:
            with self._purging:  # one purge per process and day, not one per waiting thread
                if self._last_purge != today:
                    self.purge(today)


def report_columns(kind: str, data: Mapping[str, Any]) -> tuple[Any, ...]:
    """(query, results, slug, source, helpful, reference) of an event: what a report reads,
    repeated beside its data (migration 0005 says what each holds; it fills older rows the
    same way)."""
    def text(name: str) -> str | None:
        value = data.get(name)
        return str(value).replace("\x00", "\ufffd") if value else None

    results = data.get("results")
    whole = (isinstance(results, int) and not isinstance(results, bool)
             and 0 <= results <= MAX_RESULTS_COLUMN)
    return (text("query") if kind == SEARCH else None,
            results if kind == SEARCH and whole else None,
            # a search's slug is the answer it quoted (searches stored before answers: none)
            text("slug") if kind in (ARTICLE_VIEW, VOTE) else text("answer") if kind == SEARCH
            else None,
            text("source") if kind == ARTICLE_VIEW else None,
            bool(data.get("helpful")) if kind == VOTE else None,
            text("reference") if kind == TICKET_CREATED else None)


def _event(at: datetime, session: str | None, kind: str, data: str) -> Event:
    """A row as the JSON store reads its line: the same keys in the same order, "at" in the
    text the JSON store writes (UTC isoformat), "data" parsed from the stored JSON text."""
    text = at.astimezone(UTC).isoformat()
    return {"at": text, "session": session, "type": kind, "data": json.loads(data),
            "_at": parse_time(text)}


__all__ = ["PostgresEventStore", "report_columns"]
