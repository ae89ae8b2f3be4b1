"""PostgresTicketStore: tickets in a PostgreSQL table, shared by every process on every machine
that reaches the database.

Layout: the `tickets` table of migrations/postgresql/0001_tickets.sql. One row per ticket: the
whole ticket as JSONB in `document`, and beside it the columns the inbox filters, orders and
searches by, which this module derives from the document on every write (`_columns`).

The protocol's promises, kept by the database:

- `add` returns once the row is committed; a taken reference is caught by the primary key
  (INSERT … ON CONFLICT DO NOTHING) and renewed, as the other stores do.
- `update` is one transaction holding the row lock (SELECT … FOR UPDATE): updates of one ticket
  from any number of processes or machines run one after another, and nothing is written when
  the change raises.
- Reads decode fresh documents from JSON, so every read is a copy.
- `summaries` is SQL: one GROUP BY status (per-status counts and how many match) and one page
  query, in one repeatable-read snapshot. Text matches with strpos() over the searched fields
  casefolded by Python at write time, so `%`, `_` and backslashes are plain characters and the
  result is exactly `store.summarize()`'s, Unicode folding included (ß matches "ss"); the
  order is created_at compared byte-wise, as Python compares the ISO strings, ties kept in
  insertion order.
- Connection trouble is StorageUnavailable naming PostgreSQL (503, detail in the log); the pool
  checks each connection before lending it and opens new ones once the server is back, so no
  restart is needed. A full database disk is InsufficientStorage (507). The pool and this
  meaning of failures are pg.Database's, shared with the event store (events/postgres.py).

PostgreSQL text cannot hold U+0000 (nor can JSONB hold a lone surrogate): a ticket containing
one is refused with ValidationFailed naming the field (visitor input never does: validation
refuses control characters), and a lookup or search for such text simply finds nothing.
JSONB keeps an object's keys in its own order, so a ticket reads back equal, keys possibly
listed in another order.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from ..errors import InsufficientStorage, NotFound, StorageUnavailable
from ..events import parse_time
from ..pg import ConnectionLost, Database, storable
from . import pg_schema
from .model import STATUSES, SUMMARY_FIELDS, Ticket, new_reference
from .store import OWNED_MAX, SEARCHED_FIELDS, Summaries, Summary, SummaryQuery, project, touches
from .validation import invalid

T = TypeVar("T")
log = logging.getLogger("deskbell.tickets")
LANDED_WAIT = 2.0  # seconds to look for a ticket whose COMMIT answer was lost
BATCH = 500  # tickets fetched per round trip by iter_tickets
# Fields a ticket always holds as a string (or null): tickets_touched reads them as text, the
# cheapest thing a database can send; any other field comes as its JSON text, parsed here.
_TEXT = frozenset({"reference", "status", "name", "email", "subject", "message", "category",
                   "page_url", "locale", "created_at", "updated_at", "first_reply_at",
                   "solved_at", "closed_at"})
_INSERT = ("INSERT INTO tickets (reference, status, email_key, created_at, updated_at, search,"
           " assignee, document) VALUES (%(reference)s, %(status)s, %(email_key)s,"
           " %(created_at)s, %(updated_at)s, %(search)s, %(assignee)s, %(document)s::jsonb)"
           " ON CONFLICT (reference) DO NOTHING RETURNING seq")
_UPDATE = ("UPDATE tickets SET status = %(status)s, email_key = %(email_key)s,"
           " created_at = %(created_at)s, updated_at = %(updated_at)s, search = %(search)s,"
           " assignee = %(assignee)s, document = %(document)s::jsonb WHERE reference = %(key)s")
_SUMMARY_COLUMNS = sql.SQL(", ").join(
    sql.SQL("document -> {}").format(sql.Literal(name)) for name in SUMMARY_FIELDS)


def _refuse_unstorable(value: Any, where: str) -> None:
    """ValidationFailed naming the first string (key or value) PostgreSQL cannot hold."""
    if isinstance(value, str):
        if "\x00" in value:
            raise invalid({where: "must not contain the NUL character (PostgreSQL cannot store it)"})
        if not storable(value):
            raise invalid({where: "contains an invalid character"})
    elif isinstance(value, dict):
        for key, item in value.items():
            name = str(key) if storable(str(key)) else ascii(key)
            inner = f"{where}.{name}" if where else name
            _refuse_unstorable(key, inner)
            _refuse_unstorable(item, inner)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _refuse_unstorable(item, f"{where}[{i}]")


def _json_value(text: str | None) -> Any:
    """A field read as JSON text: [] and absent fields cost no parsing."""
    if text is None:
        return None
    return [] if text == "[]" else json.loads(text)


def _columns(ticket: Ticket) -> dict[str, Any]:
    """The row of `ticket`: its document as JSON and the columns derived from it."""
    _refuse_unstorable(ticket, "")
    try:
        document = json.dumps(ticket, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:  # NaN or infinity: JSON has no such numbers
        raise invalid({"ticket": f"cannot be stored as JSON ({exc})"}) from None
    return {
        "reference": str(ticket["reference"]),
        "status": str(ticket["status"]),
        "email_key": str(ticket.get("email", "")).casefold(),
        "created_at": str(ticket["created_at"]),
        "updated_at": str(ticket.get("updated_at") or ""),
        # str(None) as summarize() does for a missing field: the match must be the same.
        "search": [str(ticket.get(name)).casefold() for name in SEARCHED_FIELDS],
        "assignee": str(ticket.get("assignee") or ""),  # 0009: '' is unassigned
        "document": document,
    }


class PostgresTicketStore:
    """Tickets in PostgreSQL through a connection pool (see module docstring)."""

    def __init__(self, url: str, *, schema: str | None = None, min_size: int = 1,
                 max_size: int = 8, timeout: float = 5.0, connect_timeout: int = 5,
                 reconnect_timeout: float = 15.0) -> None:
        """Connect once to check the schema (StorageUnavailable says why not), then pool (see
        pg.Database for the arguments)."""
        self._db = Database(url, what="ticket", logger=log, schema=schema, min_size=min_size,
                            max_size=max_size, timeout=timeout,
                            connect_timeout=connect_timeout,
                            reconnect_timeout=reconnect_timeout)

    def close(self) -> None:
        """Close every pooled connection (the store cannot be used afterwards)."""
        self._db.close()

    # -- connections

    def _transaction(self) -> AbstractContextManager[psycopg.Connection]:
        """A pooled connection in a transaction (pg.Database.transaction: committed when the
        block ends, rolled back when it raises, PostgreSQL's failures made typed errors)."""
        return self._db.transaction()

    def check(self) -> None:
        """StorageUnavailable if PostgreSQL cannot be reached or its schema is not current."""
        with self._transaction() as conn:
            pg_schema.require_current(conn)

    # -- reads

    def get(self, reference: str) -> Ticket | None:
        if not isinstance(reference, str) or len(reference) > 40 or not storable(reference):
            return None
        with self._transaction() as conn:
            row = conn.execute("SELECT document FROM tickets WHERE reference = %s",
                               (reference,)).fetchone()
        return row[0] if row else None

    def iter_tickets(self) -> Iterator[Ticket]:
        """Every ticket in the order they were added, fetched BATCH at a time (no connection is
        held between batches, so a caller may stop early)."""
        after = 0
        while True:
            with self._transaction() as conn:
                rows = conn.execute("SELECT seq, document FROM tickets WHERE seq > %s "
                                    "ORDER BY seq LIMIT %s", (after, BATCH)).fetchall()
            for _, document in rows:
                yield document
            if len(rows) < BATCH:
                return
            after = rows[-1][0]

    def tickets_touched(self, since: str, until: str,
                        fields: Sequence[str] | None = None) -> Iterator[Ticket]:
        """The tickets created or rated in [since, until), in iter_tickets order.

        One query finds the candidates' seq through the created_at and last-rated indexes
        (0003), comparing text with a day of margin either side since a stored time may carry
        any offset; their documents follow BATCH at a time (no connection held between
        batches), and store.touches keeps exactly the right ones. With `fields`, the database
        sends only those (and the two `touches` reads) in one query, not whole documents with
        their threads."""
        margin = timedelta(days=1)
        low = (parse_time(since) - margin).astimezone(UTC).isoformat()
        high = (parse_time(until) + margin).astimezone(UTC).isoformat()
        # A UNION, not an OR: each half walks its own index (an OR reads every row).
        candidates = ("SELECT seq FROM tickets WHERE created_at >= %(low)s AND created_at < %(high)s"
                      " UNION SELECT seq FROM tickets"
                      " WHERE deskbell_last_rated(document) COLLATE \"C\" >= %(low)s")
        bounds = {"low": low, "high": high}
        if fields is not None:  # small rows: one query, each half through its own index
            names = list(dict.fromkeys(["created_at", "ratings", *fields]))
            wanted = sql.SQL(", ").join([sql.SQL("seq"), *(
                sql.SQL("document ->> {}" if n in _TEXT else "(document -> {})::text").format(
                    sql.Literal(n)) for n in names)])
            query = sql.SQL(
                "SELECT {0} FROM tickets WHERE created_at >= %(low)s AND created_at < %(high)s"
                " UNION ALL SELECT {0} FROM tickets"
                " WHERE deskbell_last_rated(document) COLLATE \"C\" >= %(low)s"
                " AND NOT (created_at >= %(low)s AND created_at < %(high)s)").format(wanted)
            with self._transaction() as conn:
                rows = conn.execute(query, bounds).fetchall()
            rows.sort(key=lambda row: row[0])  # iter_tickets order
            for row in rows:
                document = {n: value if n in _TEXT else _json_value(value)
                            for n, value in zip(names, row[1:], strict=True)}
                if touches(document, since, until):
                    yield project(document, fields, copied=False)
            return
        with self._transaction() as conn:
            found = [seq for seq, in conn.execute(candidates + " ORDER BY seq",
                                                  bounds).fetchall()]
        for start in range(0, len(found), BATCH):
            with self._transaction() as conn:
                rows = conn.execute("SELECT document FROM tickets WHERE seq = ANY(%s) "
                                    "ORDER BY seq", (found[start:start + BATCH],)).fetchall()
            for document, in rows:
                if touches(document, since, until):
                    yield document

    def agent_rows(self, since: datetime, until: datetime) -> list[tuple[Any, ...]]:
        """Per agent, in SQL, what insights/agents.py agent_rows computes from tickets: for
        the tickets created in [since, until), the first responses by `first_reply_by` and the
        resolutions by `solved_by` (count, median, nearest-rank p90, in seconds), and the
        ratings given in range by their `agent_id` (count, of them 4 or 5). Through the
        created_at and last-rated indexes with a day of margin, then exact."""
        margin = timedelta(days=1)
        bounds = {"since": since, "until": until,
                  "low": (since - margin).astimezone(UTC).isoformat(),
                  "high": (until + margin).astimezone(UTC).isoformat()}
        query = (
            "WITH c AS (SELECT document, created_at::timestamptz AS created FROM tickets"
            "           WHERE created_at >= %(low)s AND created_at < %(high)s),"
            " times AS (SELECT 'first_response' AS figure, document ->> 'first_reply_by' AS agent,"
            "           (document ->> 'first_reply_at')::timestamptz - created AS took FROM c"
            "           WHERE created >= %(since)s AND created < %(until)s"
            "           AND document ->> 'first_reply_by' <> ''"
            "           AND document ->> 'first_reply_at' IS NOT NULL"
            "           UNION ALL SELECT 'resolution', document ->> 'solved_by',"
            "           (document ->> 'solved_at')::timestamptz - created FROM c"
            "           WHERE created >= %(since)s AND created < %(until)s"
            "           AND document ->> 'solved_by' <> '' AND document ->> 'solved_at' IS NOT NULL),"
            " secs AS (SELECT figure, agent, extract(epoch FROM took)::float8 AS s FROM times),"
            " rated AS (SELECT r ->> 'agent_id' AS agent, (r ->> 'csat')::numeric AS csat"
            "           FROM tickets, jsonb_array_elements(document -> 'ratings') AS r"
            "           WHERE deskbell_last_rated(document) COLLATE \"C\" >= %(low)s"
            "           AND r ->> 'agent_id' <> '' AND (r ->> 'at')::timestamptz >= %(since)s"
            "           AND (r ->> 'at')::timestamptz < %(until)s)"
            " SELECT figure, agent, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY s),"
            "        percentile_disc(0.9) WITHIN GROUP (ORDER BY s) FROM secs GROUP BY 1, 2"
            " UNION ALL SELECT 'csat', agent, count(*),"
            "        (count(*) FILTER (WHERE csat >= 4))::float8, NULL FROM rated GROUP BY 2")
        with self._transaction() as conn:
            conn.execute("SET LOCAL TimeZone = 'UTC'")  # a time without offset is UTC
            rows = conn.execute(query, bounds).fetchall()
        return [(f, a, int(n), None if m is None else float(m), None if p is None else float(p))
                for f, a, n, m, p in rows]

    def count(self) -> int:
        with self._transaction() as conn:
            row = conn.execute("SELECT count(*) FROM tickets").fetchone()
        return int(row[0]) if row else 0

    def summaries(self, query: SummaryQuery) -> Summaries:
        """One inbox page as SQL; equal to store.summarize() over the same tickets."""
        match, params = _match(query)
        counted = sql.SQL("SELECT status, count(*), count(*) FILTER (WHERE {}) "
                          "FROM tickets GROUP BY status").format(match)
        direction = sql.SQL("DESC" if query.newest_first else "ASC")
        page = sql.SQL("SELECT {} FROM tickets WHERE {} ORDER BY created_at {}, seq "
                       "LIMIT %(limit)s").format(_SUMMARY_COLUMNS, match, direction)
        with self._transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            counts = dict.fromkeys(STATUSES, 0)
            total = matched = 0
            for status, in_status, matching in conn.execute(counted, params).fetchall():
                counts[status] = in_status
                total += in_status
                matched += matching
            # As Python slices: a negative limit drops that many from the end.
            limit = len(range(matched)[:query.limit])
            rows = conn.execute(page, {**params, "limit": limit}).fetchall() if limit else []
        items = [dict(zip(SUMMARY_FIELDS, row, strict=True)) for row in rows]
        return Summaries(counts, total, matched, items)

    # -- writes

    def add(self, ticket: Ticket) -> Ticket:
        columns = _columns(ticket)  # refused before a connection is taken
        try:
            with self._transaction() as conn:
                while conn.execute(_INSERT, columns).fetchone() is None:
                    ticket["reference"] = new_reference()  # 2^60 space: practically never loops
                    columns = _columns(ticket)
        except ConnectionLost:
            # The connection died on the way, perhaps after COMMIT reached the server but
            # before its answer came back: if the row is there, the ticket is stored, and
            # saying "nothing was saved" would have the visitor send it twice. (No connection
            # at all is a plain StorageUnavailable: nothing was sent, nothing to look for.)
            if self._landed(ticket):
                return ticket
            raise
        return ticket

    def _landed(self, ticket: Ticket) -> bool:
        try:
            with self._db.transaction(timeout=LANDED_WAIT) as conn:
                row = conn.execute("SELECT document FROM tickets WHERE reference = %s",
                                   (ticket["reference"],)).fetchone()
        except StorageUnavailable:
            return False
        return row is not None and row[0] == ticket

    def update(self, reference: str, change: Callable[[Ticket], T]) -> tuple[Ticket, T]:
        if not isinstance(reference, str) or not storable(reference):
            raise NotFound("no such ticket")
        with self._transaction() as conn:
            row = conn.execute("SELECT document FROM tickets WHERE reference = %s FOR UPDATE",
                               (reference,)).fetchone()
            if row is None:
                raise NotFound("no such ticket")
            ticket: Ticket = row[0]
            result = change(ticket)  # raises before anything is written: the row is untouched
            conn.execute(_UPDATE, {**_columns(ticket), "key": reference})
        return ticket, result

    def tickets_of(self, email: str, user_id: str | None = None,
                   limit: int = OWNED_MAX) -> list[Summary]:
        """Through the email_key index (0001), or the user_id index (0007)."""
        if user_id is not None:
            where, key = sql.SQL("document ->> 'user_id' = %s"), user_id
        else:
            where, key = sql.SQL("email_key = %s"), email.casefold()
        if not storable(key):
            return []
        query = sql.SQL("SELECT {} FROM tickets WHERE {} ORDER BY created_at DESC, seq "
                        "LIMIT %s").format(_SUMMARY_COLUMNS, where)
        with self._transaction() as conn:
            rows = conn.execute(query, (key, max(limit, 0))).fetchall()
        return [dict(zip(SUMMARY_FIELDS, row, strict=True)) for row in rows]

    def erase_email(self, email: str) -> int:
        """Delete every ticket of `email` (case-insensitive), then VACUUM the table so the
        deleted rows do not linger in its pages (copies in WAL archives and backups follow
        the database's own retention)."""
        wanted = email.strip().casefold()
        if not storable(wanted):
            return 0
        with self._transaction() as conn:
            removed = conn.execute("DELETE FROM tickets WHERE email_key = %s", (wanted,)).rowcount
        if removed:
            try:
                self._vacuum()
            except (StorageUnavailable, InsufficientStorage):  # the rows are gone all the same
                log.warning("ticket store: erased %d ticket(s) but VACUUM failed; autovacuum "
                            "will reclaim their space later", removed)
        return removed

    def _vacuum(self) -> None:
        with self._transaction() as conn:  # a fresh connection: no transaction is open yet
            conn.autocommit = True  # VACUUM cannot run inside a transaction block
            try:
                conn.execute("VACUUM tickets")
            finally:
                conn.autocommit = False


def _match(query: SummaryQuery) -> tuple[sql.Composable, dict[str, Any]]:
    """The WHERE condition of `query` and its parameters; text a stored field cannot hold
    (NUL, a lone surrogate) matches nothing, as it would in summarize()."""
    if not storable(query.status) or not storable(query.text) or not storable(
            query.assignee or ""):
        return sql.SQL("FALSE"), {}
    conditions: list[sql.Composable] = []
    params: dict[str, Any] = {}
    if query.status:
        conditions.append(sql.SQL("status = %(status)s"))
        params["status"] = query.status
    if query.assignee is not None:  # through tickets_assignee_created_at (0009)
        conditions.append(sql.SQL("assignee = %(assignee)s"))
        params["assignee"] = query.assignee
    if query.text:
        conditions.append(sql.SQL(
            "EXISTS (SELECT FROM unnest(search) AS field WHERE strpos(field, %(text)s) > 0)"))
        params["text"] = query.text.casefold()
    return (sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("TRUE")), params


__all__ = ["PostgresTicketStore", "storable"]
