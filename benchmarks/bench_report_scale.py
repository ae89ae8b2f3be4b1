"""The admin inbox and the insights report over a year of PostgreSQL: `python -m
benchmarks.bench_report_scale [--tickets 1000000] [--events 10000000] [--repeats 3]`.

Two fresh schemas at the current migration, each COPYed full as bench_scale.filled_schema
does: N tickets created over the 365 days before NOW (90% answered, 70% of those solved, 60%
of the solved rated a few hours to four days later) and E events over the same year (help
sessions: widget_open, search, often article_view, sometimes a vote or ticket_created). The
migration's indexes are dropped for the COPY and built again afterwards, as they were, then
ANALYZE. Measured, median of `repeats` (after one warm-up call each):

- inbox: the admin inbox's first page, `store.summaries(SummaryQuery(limit=200))`;
- report: `load_report(events, tickets, NOW - 30 days, NOW, UTC)`, as /admin/insights loads
  it (the events of the range and the spike baseline, the tickets created or rated in them);

beside the same at a tenth of the size (N/10 tickets, E/10 events) in the same run.
Targets (the issue): inbox first page under 200 ms, report under 5 s.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.common import POSTGRES, Figure, postgres_schema, print_table

NOW = datetime(2026, 11, 30, tzinfo=UTC)
DAYS = 365
INBOX_MS, REPORT_S = 200.0, 5.0
TICKET_COLUMNS = ("reference", "status", "email_key", "created_at", "updated_at", "search",
                  "document")
EVENT_COLUMNS = ("day", "at", "session", "type", "data", "query", "results", "slug", "source",
                 "helpful", "reference")
CATEGORIES = ("Billing", "Account", "Embedding", "Operations", "Getting started", "General")
TOPICS = ("reset password", "refund policy", "embed snippet", "wordpress plugin", "invoice",
          "dark mode", "export to pdf", "slack integration", "two factor", "change email",
          "cancel subscription", "api key", "webhook", "custom domain", "reindex")
QUERIES = [q for t in TOPICS for q in (t, t + "s", t[:-1], t.replace(" ", ""))]  # 60 spellings


def _ticket(i: int, created: datetime, rng: random.Random) -> dict[str, Any]:
    at = created.isoformat()
    category = CATEGORIES[i % len(CATEGORIES)]
    ticket: dict[str, Any] = {
        "reference": f"DB-{i:012d}", "token_hash": f"{i:064x}", "name": f"Visitor {i}",
        "email": f"visitor{i}@example.com", "subject": f"Help with {TOPICS[i % len(TOPICS)]}",
        "message": "I tried the steps in the article and it still does not work. " * 3,
        "page_url": "https://shop.example.com/account", "category": category, "locale": "en",
        "trail": {"session": f"s_{i:022d}"}, "status": "new", "created_at": at,
        "updated_at": at, "first_reply_at": None, "solved_at": None, "closed_at": None,
        "resolution_count": 0, "ratings": [],
        "thread": [{"id": f"{i:012x}", "author": "visitor", "author_name": f"Visitor {i}",
                    "body": "I tried the steps in the article.", "at": at}],
    }
    if rng.random() < 0.9:
        reply = created + timedelta(minutes=rng.choice([20, 45, 90, 180, 600, 1200]))
        ticket.update(first_reply_at=reply.isoformat(), status="pending",
                      updated_at=reply.isoformat())
        if rng.random() < 0.7:
            solved = reply + timedelta(hours=rng.choice([1, 3, 6, 20, 30, 50]))
            ticket.update(solved_at=solved.isoformat(), status="solved", resolution_count=1,
                          updated_at=solved.isoformat())
            if rng.random() < 0.6:
                rated = solved + timedelta(hours=rng.choice([2, 5, 20, 48]))
                ticket["ratings"].append({"csat": rng.choice([5, 5, 4, 4, 3, 2]),
                                          "ces": rng.choice([1, 2, 3]), "comment": "",
                                          "at": rated.isoformat(), "resolution": 1})
    return ticket


def _ticket_rows(count: int) -> Iterator[list[Any]]:
    """Tickets in the order they were created, as rows of PostgresTicketStore's table."""
    from widget_server.tickets.store import SEARCHED_FIELDS

    rng = random.Random(count)
    start = NOW - timedelta(days=DAYS)
    step = DAYS * 86400 / count
    for i in range(count):
        created = start + timedelta(seconds=i * step + rng.random() * step)
        t = _ticket(i, created, rng)
        yield [t["reference"], t["status"], t["email"].casefold(), t["created_at"],
               t["updated_at"], [str(t.get(name)).casefold() for name in SEARCHED_FIELDS],
               json.dumps(t, ensure_ascii=False)]


def _event_rows(count: int) -> Iterator[list[Any]]:
    """Help sessions in time order, about four events each, `count` events in all, as rows of
    PostgresEventStore's table (the report columns as append_many writes them)."""
    from widget_server.events.postgres import report_columns

    rng = random.Random(count)
    start = NOW - timedelta(days=DAYS)
    sessions = max(1, count // 4)
    step = DAYS * 86400 / sessions
    written = n = 0
    while written < count:
        t = start + timedelta(seconds=n * step + rng.random() * step / 2)
        session = f"s_{n:022d}"
        query = rng.choice(QUERIES)
        found = rng.random() < 0.75
        trail = [("widget_open", {"page_url": "https://shop.example.com/"}),
                 ("search", {"query": query, "results": 4 if found else 0, "locale": "en"})]
        if found:
            slug = "help/" + query.replace(" ", "-")
            trail.append(("article_view", {"slug": slug, "source": "search"}))
            trail.append(("vote", {"slug": slug, "helpful": rng.random() < 0.8,
                                   "reason": ""}))
        else:
            trail.append(("contact_open", {}))
            trail.append(("ticket_created", {"reference": f"DB-E{n:011d}",
                                             "category": rng.choice(CATEGORIES)}))
        for kind, data in trail[:count - written]:
            yield [t.date(), t, session, kind, json.dumps(data, separators=(",", ":")),
                   *report_columns(kind, data)]
            t += timedelta(seconds=20)
            written += 1
        n += 1


def _copy(conn: Any, table: str, columns: tuple[str, ...], types: list[str],
          rows: Iterator[list[Any]]) -> None:
    """COPY rows into `table` with its secondary indexes dropped, then build them again."""
    from psycopg import sql

    indexes = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s"
        " AND i.schemaname = current_schema() AND NOT EXISTS (SELECT FROM pg_constraint c"
        " WHERE c.conname = i.indexname)", (table,)).fetchall()
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
    conn.execute("SET maintenance_work_mem = '1GB'")
    for _, definition in indexes:
        conn.execute(definition)
    conn.commit()


@contextmanager
def year_schema(tickets: int, events: int) -> Iterator[tuple[str, dict[str, float]]]:
    """A fresh schema holding `tickets` tickets and `events` events over the year before NOW;
    yields its URL and how long the COPYs took (seconds)."""
    import psycopg

    from widget_server.tickets import pg_schema

    with postgres_schema(POSTGRES, prefix="deskbell_bench") as url:
        with pg_schema.connect(url) as conn:
            pg_schema.upgrade(conn)
        took: dict[str, float] = {}
        with psycopg.connect(url) as conn:
            began = time.perf_counter()
            _copy(conn, "tickets", TICKET_COLUMNS,
                  ["text", "text", "text", "text", "text", "text[]", "text"],
                  _ticket_rows(tickets))
            took["tickets"] = time.perf_counter() - began
            began = time.perf_counter()
            _copy(conn, "events", EVENT_COLUMNS, ["date", "timestamptz", "text", "text", "text",
                                                  "text", "int4", "text", "text", "bool",
                                                  "text"], _event_rows(events))
            conn.execute(
                "INSERT INTO event_days (day, bytes, events) SELECT day,"
                " sum(octet_length(data::text) + 100), count(*) FROM events GROUP BY day")
            conn.commit()
            took["events"] = time.perf_counter() - began
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE tickets")
            conn.execute("VACUUM ANALYZE events")
        yield url, took


def _timed(call: Callable[[], object], repeats: int) -> list[float]:
    call()  # warm-up: pools open, caches and plans as a running server has them
    runs = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        runs.append(time.perf_counter() - began)
    return runs


def measure(tickets: int, events: int, repeats: int) -> dict[str, Any]:
    from widget_server.events.postgres import PostgresEventStore
    from widget_server.insights import load_report
    from widget_server.tickets import SummaryQuery
    from widget_server.tickets.postgres import PostgresTicketStore

    with year_schema(tickets, events) as (url, took):
        store = PostgresTicketStore(url)
        event_store = PostgresEventStore(url, retention_days=None)
        try:
            inbox = _timed(lambda: store.summaries(SummaryQuery(limit=200)), repeats)
            since = NOW - timedelta(days=30)
            report = load_report(event_store, store, since, NOW, ZoneInfo("UTC"))
            runs = _timed(lambda: load_report(event_store, store, since, NOW,
                                              ZoneInfo("UTC")), repeats)
        finally:
            store.close()
            event_store.close()
    return {"tickets": tickets, "events": events, "copy_s": took,
            "inbox_ms": [1000 * r for r in inbox], "report_s": runs,
            "report_tickets": report.tickets.total, "report_ratings": report.satisfaction.ratings,
            "report_sessions": report.sessions.help_sessions}


def _size(n: int) -> str:
    return f"{n / 1_000_000:g}M" if n >= 1_000_000 else f"{n // 1000}k"


def run(tickets: int, events: int, repeats: int = 3) -> list[Figure]:
    base = measure(tickets // 10, events // 10, repeats)
    full = measure(tickets, events, repeats)
    for row in (base, full):
        print(f"{_size(row['tickets'])} tickets, {_size(row['events'])} events: COPY "
              f"{row['copy_s']['tickets']:.0f} s + {row['copy_s']['events']:.0f} s; the 30-day "
              f"report: {row['report_tickets']} tickets, {row['report_ratings']} ratings, "
              f"{row['report_sessions']} sessions", flush=True)
    label = f"{_size(tickets)} tickets, {_size(events)} events"
    small = f"{_size(base['tickets'])}/{_size(base['events'])}"
    return [
        Figure("report", f"inbox first page, {label}", "ms", full["inbox_ms"], small,
               base["inbox_ms"], f"< {INBOX_MS:g} ms").check(INBOX_MS),
        Figure("report", f"30-day report, {label}", "s", full["report_s"], small,
               base["report_s"], f"< {REPORT_S:g} s").check(REPORT_S),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    figures = run(args.tickets, args.events, args.repeats)
    print_table(figures)
    print(json.dumps([f.as_dict() for f in figures], indent=1, default=str))


if __name__ == "__main__":
    main()
