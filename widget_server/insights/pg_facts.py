"""EventFacts computed by PostgreSQL: the report's event figures as SQL over the events table.

`postgres_facts(conn, first, since, until, tz)` answers exactly what facts.fold_events answers
for the same events (a test runs both over the same scripted events), reading the columns
migration 0005 keeps beside each event's data instead of parsing the data. What stays in
Python is what is small: grouping the distinct queries by meaning (queries.cluster_queries,
whose groups are then handed to the database for the group-level counts), sorting rows for
ties, and reading the reasons of not-helpful votes.

Everything runs in the caller's transaction on one connection: the query groups go into a
temporary table dropped at commit.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from .facts import Downvote, EventFacts, QueryGroups, TicketAfter, TicketSearch, ZeroFacts, ranked


def _span(start: str, alias: str = "") -> str:
    """The events from `start` (since or first) to until: `day` narrows through the (day,
    seq) index, `at` is exact."""
    return (f"{alias}day >= %({start}_day)s AND {alias}at >= %({start})s"
            f" AND {alias}day <= %(until_day)s AND {alias}at < %(until)s")


RANGE, HISTORY = _span("since"), _span("first")  # [since, until) and [first, until)
TRAIL = "session <> ''"  # an event with a session (NULL compares as unknown: left out)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)  # as the connection's TimeZone gave it: UTC, as fold_events


def postgres_facts(conn: psycopg.Connection, first: datetime, since: datetime,
                   until: datetime, tz: ZoneInfo) -> EventFacts:
    """The facts of the events of [first, until) for a report over [since, until) in `tz`."""
    p: dict[str, Any] = {
        "first": first, "first_day": first.astimezone(UTC).date(),
        "since": since, "since_day": since.astimezone(UTC).date(),
        "until": until, "until_day": until.astimezone(UTC).date(), "tz": tz.key,
    }
    counts: dict[str, int] = dict(conn.execute(
        f"SELECT query, count(*) FROM events WHERE {HISTORY} AND type = 'search'"
        " AND query <> '' GROUP BY query", p).fetchall())
    queries = QueryGroups.counted(counts)
    conn.execute("CREATE TEMPORARY TABLE report_groups (query text COLLATE \"C\" PRIMARY KEY,"
                 " grp text COLLATE \"C\" NOT NULL) ON COMMIT DROP")
    with conn.cursor() as cur, cur.copy("COPY report_groups (query, grp) FROM STDIN") as copy:
        for query in counts:
            copy.write_row((query, queries.key(query)))
    failed = tuple((q, _utc(at)) for q, at in conn.execute(
        f"SELECT query, at FROM events WHERE {HISTORY} AND type = 'search' AND query <> ''"
        " AND results = 0 ORDER BY day, seq", p).fetchall())
    return EventFacts(timezone=tz.key, **_sessions(conn, p), **_searches(conn, p, queries),
                      **_ticket_searches(conn, p), **_articles(conn, p), failed=failed,
                      queries=queries)


def _sessions(conn: psycopg.Connection, p: dict[str, Any]) -> dict[str, Any]:
    """Sessions by the local day of their first search or article view (NULL: never engaged),
    and the trails' searches with whether the next search or view was a view."""
    days = conn.execute(
        "SELECT (engaged_at AT TIME ZONE %(tz)s)::date, count(*),"
        " count(*) FILTER (WHERE NOT ticketed) FROM ("
        "  SELECT min(at) FILTER (WHERE type IN ('search', 'article_view')) AS engaged_at,"
        "         bool_or(type = 'ticket_created') AS ticketed"
        f"  FROM events WHERE {RANGE} AND {TRAIL} GROUP BY session) AS s GROUP BY 1", p
    ).fetchall()
    engaged = {day: (int(n), int(served)) for day, n, served in days if day is not None}
    searches, zero, succeeded = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE results = 0),"
        " count(*) FILTER (WHERE next = 'article_view') FROM ("
        "  SELECT type, results,"
        "         lead(type) OVER (PARTITION BY session ORDER BY at, seq) AS next"
        f"  FROM events WHERE {RANGE} AND {TRAIL} AND type IN ('search', 'article_view')"
        ") AS t WHERE type = 'search'", p).fetchone() or (0, 0, 0)
    return {"help_sessions": sum(int(n) for _, n, _ in days),
            "engaged_sessions": sum(n for n, _ in engaged.values()),
            "self_served_sessions": sum(s for _, s in engaged.values()),
            "engaged_days": dict(sorted(engaged.items())),
            "searches": int(searches), "successful_searches": int(succeeded),
            "zero_result_searches": int(zero)}


def _searches(conn: psycopg.Connection, p: dict[str, Any],
              queries: QueryGroups) -> dict[str, Any]:
    """Searches per query in range; per group, zero-result spellings, their distinct sessions
    (a search without a session counting as one) and whether any search of it found."""
    rows = conn.execute(
        "SELECT query, count(*), count(*) FILTER (WHERE results = 0),"
        " count(*) FILTER (WHERE results IS DISTINCT FROM 0)"
        f" FROM events WHERE {RANGE} AND type = 'search' AND query <> '' GROUP BY query",
        p).fetchall()
    sessions: dict[str, int] = dict(conn.execute(
        "SELECT g.grp, count(DISTINCT coalesce(e.session, '')) FROM events AS e"
        " JOIN report_groups AS g ON g.query = e.query"
        f" WHERE {_span('since', 'e.')}"
        " AND e.type = 'search' AND e.results = 0 GROUP BY g.grp", p).fetchall())
    variants: dict[str, dict[str, int]] = defaultdict(dict)
    found: set[str] = set()
    for query, _, zero, other in rows:
        group = queries.key(query)
        if zero:
            variants[group][query] = int(zero)
        if other:
            found.add(group)
    zero_facts = {g: ZeroFacts(dict(ranked(v)), int(sessions[g]), g in found)
                  for g, v in sorted(variants.items())}
    return {"searched": dict(ranked({q: int(n) for q, n, _, _ in rows})), "zero": zero_facts}


def _ticket_searches(conn: psycopg.Connection, p: dict[str, Any]) -> dict[str, Any]:
    """Sessions per searched group, and for each ticket every group its session searched
    before it with that group's latest search then."""
    ranged = _span("since", "e.")
    group_sessions = conn.execute(
        "SELECT g.grp, count(DISTINCT e.session) FROM events AS e"
        " JOIN report_groups AS g ON g.query = e.query"
        f" WHERE {ranged} AND e.type = 'search' AND e.{TRAIL} GROUP BY g.grp", p).fetchall()
    rows = conn.execute(
        "WITH t AS (SELECT seq, at, session, reference FROM events"
        f"           WHERE {RANGE} AND type = 'ticket_created' AND {TRAIL}),"
        "     s AS (SELECT e.seq, e.at, e.session, e.query, e.results, g.grp FROM events AS e"
        "           JOIN report_groups AS g ON g.query = e.query"
        f"           WHERE {ranged} AND e.type = 'search' AND e.{TRAIL})"
        " SELECT DISTINCT ON (t.seq, s.grp) t.at, t.seq, t.session, coalesce(t.reference, ''),"
        "        s.grp, s.query, coalesce(s.results <> 0, false)"
        " FROM t JOIN s ON s.session = t.session AND (s.at, s.seq) < (t.at, t.seq)"
        " ORDER BY t.seq, s.grp, s.at DESC, s.seq DESC", p).fetchall()
    rows.sort(key=lambda r: (r[0], r[1], r[4]))
    return {"group_sessions": {g: int(n) for g, n in sorted(group_sessions)},
            "ticket_searches": tuple(TicketSearch(_utc(at), session, ref, grp, query, found)
                                     for at, _, session, ref, grp, query, found in rows)}


def _articles(conn: psycopg.Connection, p: dict[str, Any]) -> dict[str, Any]:
    """Views by source and votes per article (every event, then trails only), the trails'
    not-helpful votes with their reasons, and the tickets that followed them."""
    views: dict[str, dict[str, int]] = defaultdict(dict)
    votes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    trail_votes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for slug, kind, source, helpful, in_trail, n in conn.execute(
            "SELECT slug, type, coalesce(source, 'unknown'), coalesce(helpful, false),"
            f" coalesce({TRAIL}, false), count(*) FROM events WHERE {RANGE}"
            " AND type IN ('article_view', 'vote') AND slug <> '' GROUP BY 1, 2, 3, 4, 5", p):
        if kind == "article_view":
            views[slug][source] = views[slug].get(source, 0) + int(n)
        else:
            votes[slug][0 if helpful else 1] += int(n)
            if in_trail:
                trail_votes[slug][0 if helpful else 1] += int(n)
    downvotes = []
    for at, slug, data in conn.execute(
            f"SELECT at, slug, data::text FROM events WHERE {RANGE} AND type = 'vote'"
            f" AND {TRAIL} AND slug <> '' AND NOT coalesce(helpful, false) ORDER BY at, seq",
            p):
        fields = json.loads(data)  # in Python: a reason or comment may hold \u0000
        downvotes.append(Downvote(_utc(at), slug, str(fields.get("reason") or ""),
                                  str(fields.get("comment") or "")))
    # Each session's not-helpful votes and tickets in trail order, cut into segments that end
    # at a ticket (a vote's segment is the number of tickets before it, plus one): a
    # segment's ticket followed its votes. Grouping, not a join, so no plan can go quadratic.
    segments = conn.execute(
        "SELECT max(at) FILTER (WHERE type = 'ticket_created'),"
        " max(seq) FILTER (WHERE type = 'ticket_created'),"
        " coalesce(max(reference) FILTER (WHERE type = 'ticket_created'), ''),"
        " array_agg(DISTINCT slug) FILTER (WHERE type = 'vote') FROM ("
        "  SELECT session, type, at, seq, slug, reference, CASE WHEN type = 'vote' THEN 1"
        "   ELSE 0 END + count(*) FILTER (WHERE type = 'ticket_created')"
        "   OVER (PARTITION BY session ORDER BY at, seq) AS segment"
        f"  FROM events WHERE {RANGE} AND {TRAIL} AND (type = 'ticket_created'"
        "   OR (type = 'vote' AND slug <> '' AND NOT coalesce(helpful, false)))) AS x"
        " GROUP BY session, segment HAVING count(*) FILTER (WHERE type = 'ticket_created') > 0"
        " AND count(*) FILTER (WHERE type = 'vote') > 0", p).fetchall()
    after = [(at, seq, slug, ref) for at, seq, ref, slugs in segments for slug in slugs]
    after.sort(key=lambda r: (r[0], r[1], r[2]))
    return {"views": {s: dict(ranked(c)) for s, c in sorted(views.items())},
            "votes": {s: (v[0], v[1]) for s, v in sorted(votes.items())},
            "trail_votes": {s: (v[0], v[1]) for s, v in sorted(trail_votes.items())},
            "downvotes": tuple(downvotes),
            "tickets_after": tuple(TicketAfter(_utc(at), slug, ref)
                                   for at, _, slug, ref in after)}


__all__ = ["postgres_facts"]
