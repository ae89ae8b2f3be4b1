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
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from ..events import ARTICLE_VIEW, CONTACT_OPEN, SEARCH, TICKET_CREATED, VOTE, WIDGET_CLOSE
from .facts import (
    SELF_SERVICE_HOURS,
    Downvote,
    EventFacts,
    Funnel,
    QueryGroups,
    TicketAfter,
    TicketSearch,
    ZeroFacts,
    decided_by,
    ranked,
)


def _span(start: str, alias: str = "") -> str:
    """The events from `start` (since or first) to until: `day` narrows through the (day,
    seq) index, `at` is exact."""
    return (f"{alias}day >= %({start}_day)s AND {alias}at >= %({start})s"
            f" AND {alias}day <= %(until_day)s AND {alias}at < %(until)s")


RANGE, HISTORY = _span("since"), _span("first")  # [since, until) and [first, until)
TRAIL = "session <> ''"  # an event with a session (NULL compares as unknown: left out)




def report_params(first: datetime, since: datetime, until: datetime, tz: ZoneInfo,
                  hours: int = SELF_SERVICE_HOURS, now: datetime | None = None) -> dict[str, Any]:
    """The parameters every query here takes."""
    return {"first": first, "first_day": first.astimezone(UTC).date(),
            "hours": hours, "window": timedelta(hours=hours),
            "decided_by": decided_by(until, now),
            "since": since, "since_day": since.astimezone(UTC).date(),
            "until": until, "until_day": until.astimezone(UTC).date(), "tz": tz.key,
            # event types are named through the registry, as parameters
            "t_search": SEARCH, "t_view": ARTICLE_VIEW, "t_vote": VOTE,
            "t_ticket": TICKET_CREATED, "t_contact": CONTACT_OPEN, "t_close": WIDGET_CLOSE}


def prepare(conn: psycopg.Connection) -> None:
    """Settings for the report's transaction: its sorts and hashes fit in memory, JIT
    compiles longer than these queries run, and times come back in UTC (as fold_events has
    them)."""
    conn.execute("SET LOCAL work_mem = '64MB'")
    conn.execute("SET LOCAL jit = off")
    conn.execute("SET LOCAL TimeZone = 'UTC'")


def side_facts(conn: psycopg.Connection, p: dict[str, Any]) -> dict[str, Any]:
    """The parts other connections can compute while the first does the rest, needing no
    query groups: the session figures (the longest query) and the article figures."""
    return {**session_facts(conn, p), **article_facts(conn, p)}


def postgres_facts(conn: psycopg.Connection, first: datetime, since: datetime,
                   until: datetime, tz: ZoneInfo, hours: int = SELF_SERVICE_HOURS,
                   now: datetime | None = None,
                   side: Callable[[], dict[str, Any]] | None = None) -> EventFacts:
    """The facts of the events of [first, until) for a report over [since, until) in `tz`.
    `side`, when given, answers `side_facts` (computed meanwhile on other connections that
    share this transaction's snapshot); otherwise it runs here, after the rest."""
    p = report_params(first, since, until, tz, hours, now)
    prepare(conn)
    searched = conn.execute(
        "SELECT query, count(*), count(*) FILTER (WHERE at >= %(since)s),"
        " count(*) FILTER (WHERE at >= %(since)s AND results = 0),"
        " count(*) FILTER (WHERE at >= %(since)s AND results IS DISTINCT FROM 0)"
        f" FROM events WHERE {HISTORY} AND type = %(t_search)s AND query <> '' GROUP BY query",
        p).fetchall()
    queries = QueryGroups.counted({q: int(n) for q, n, *_ in searched})
    conn.execute("CREATE TEMPORARY TABLE report_groups (query text COLLATE \"C\" PRIMARY KEY,"
                 " grp text COLLATE \"C\" NOT NULL) ON COMMIT DROP")
    with conn.cursor() as cur, cur.copy("COPY report_groups (query, grp) FROM STDIN") as copy:
        for query, *_ in searched:
            copy.write_row((query, queries.key(query)))
    failed = tuple((q, at) for q, at in conn.execute(
        f"SELECT query, at FROM events WHERE {HISTORY} AND type = %(t_search)s AND query <> ''"
        " AND results = 0 ORDER BY day, seq", p).fetchall())
    rest = {**_searches(conn, p, queries, searched), **_ticket_searches(conn, p)}
    return EventFacts(timezone=tz.key, **(side() if side is not None else side_facts(conn, p)),
                      **rest, failed=failed, queries=queries)


def session_facts(conn: psycopg.Connection, p: dict[str, Any]) -> dict[str, Any]:
    """Per session: the local day of its first search or article view (NULL: never engaged),
    whether it opened a ticket, its searches, zero-result searches and successful searches
    (the next search or view of the trail is a view: `lead` over the session's searches and
    views, partitioned apart from its other events), and its place in the self-service
    funnel (facts.py; a search's slug column holds the answer it quoted). One sort, then
    sums per day."""
    rows = conn.execute(
        "SELECT (engaged_at AT TIME ZONE %(tz)s)::date, count(*),"
        " count(*) FILTER (WHERE NOT ticketed), sum(searches), sum(zero), sum(succeeded),"
        " count(*) FILTER (WHERE searches > 0),"
        " count(*) FILTER (WHERE views > 0 OR answered),"
        " count(*) FILTER (WHERE voted),"
        " count(*) FILTER (WHERE escalated),"
        " count(*) FILTER (WHERE NOT escalated AND decided"
        "                  AND (helpful OR (answered AND closed AND NOT contacted))),"
        " count(*) FILTER (WHERE NOT escalated AND decided"
        "                  AND NOT (helpful OR (answered AND closed AND NOT contacted))),"
        " count(*) FILTER (WHERE NOT escalated AND NOT decided) FROM ("
        "  SELECT *, EXISTS (SELECT 1 FROM unnest(tickets) AS t(at)"
        "                    WHERE t.at >= engaged_at AND t.at <= engaged_at + %(window)s)"
        "            AS escalated,"
        "         engaged_at + %(window)s <= %(decided_by)s AS decided FROM ("
        "  SELECT min(at) FILTER (WHERE engaged) AS engaged_at,"
        "         bool_or(type = %(t_ticket)s) AS ticketed,"
        "         array_agg(at) FILTER (WHERE type = %(t_ticket)s) AS tickets,"
        "         count(*) FILTER (WHERE type = %(t_search)s) AS searches,"
        "         count(*) FILTER (WHERE type = %(t_search)s AND results = 0) AS zero,"
        "         count(*) FILTER (WHERE type = %(t_search)s AND next = %(t_view)s) AS succeeded,"
        "         count(*) FILTER (WHERE type = %(t_view)s) AS views,"
        "         coalesce(bool_or(type = %(t_search)s AND slug <> ''), false) AS answered,"
        "         bool_or(type = %(t_vote)s) AS voted,"
        "         coalesce(bool_or(type = %(t_vote)s AND helpful), false) AS helpful,"
        "         bool_or(type = %(t_close)s) AS closed,"
        "         bool_or(type = %(t_contact)s) AS contacted"
        "  FROM (SELECT session, at, type, results, slug, helpful, engaged,"
        "               lead(type) OVER (PARTITION BY session, engaged ORDER BY at, seq) AS next"
        "        FROM (SELECT session, at, seq, type, results, slug, helpful,"
        "                     type IN (%(t_search)s, %(t_view)s) AS engaged"
        f"              FROM events WHERE {RANGE} AND {TRAIL}) AS e) AS w"
        "  GROUP BY session) AS s) AS f GROUP BY 1", p).fetchall()
    engaged = {day: (int(n), int(served)) for day, n, served, *_ in rows if day is not None}
    funnel = [sum(int(r[i]) for r in rows if r[0] is not None) for i in range(6, 13)]
    return {"help_sessions": sum(int(r[1]) for r in rows),
            "engaged_sessions": sum(n for n, _ in engaged.values()),
            "self_served_sessions": sum(s for _, s in engaged.values()),
            "engaged_days": dict(sorted(engaged.items())),
            "searches": sum(int(r[3]) for r in rows),
            "successful_searches": sum(int(r[5]) for r in rows),
            "zero_result_searches": sum(int(r[4]) for r in rows),
            "funnel": Funnel._make([sum(n for n, _ in engaged.values()), *funnel, p["hours"]])}


def _searches(conn: psycopg.Connection, p: dict[str, Any], queries: QueryGroups,
              searched: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Searches per query in range; per group, zero-result spellings, their distinct sessions
    (a search without a session counting as one), whether any search of it found, and the
    sessions that searched it (trails only)."""
    sessions = {grp: (int(zero), int(trails)) for grp, zero, trails in conn.execute(
        "SELECT g.grp, count(DISTINCT coalesce(e.session, '')) FILTER (WHERE e.results = 0),"
        f" count(DISTINCT e.session) FILTER (WHERE e.{TRAIL}) FROM events AS e"
        " JOIN report_groups AS g ON g.query = e.query"
        f" WHERE {_span('since', 'e.')} AND e.type = %(t_search)s GROUP BY g.grp", p)}
    variants: dict[str, dict[str, int]] = defaultdict(dict)
    found: set[str] = set()
    for query, _, _, zero, other in searched:
        group = queries.key(query)
        if zero:
            variants[group][query] = int(zero)
        if other:
            found.add(group)
    zero_facts = {g: ZeroFacts(dict(ranked(v)), sessions[g][0], g in found)
                  for g, v in sorted(variants.items())}
    return {"searched": dict(ranked({q: int(n) for q, _, n, _, _ in searched if n})),
            "zero": zero_facts,
            "group_sessions": {g: n for g, (_, n) in sorted(sessions.items()) if n}}


def _ticket_searches(conn: psycopg.Connection, p: dict[str, Any]) -> dict[str, Any]:
    """For each ticket, every group its session searched before it, with that group's latest
    search then."""
    ranged = _span("since", "e.")
    rows = conn.execute(
        "WITH t AS (SELECT seq, at, session, reference FROM events"
        f"           WHERE {RANGE} AND type = %(t_ticket)s AND {TRAIL}),"
        "     s AS (SELECT e.seq, e.at, e.session, e.query, e.results, g.grp FROM events AS e"
        "           JOIN report_groups AS g ON g.query = e.query"
        f"           WHERE {ranged} AND e.type = %(t_search)s AND e.{TRAIL})"
        " SELECT DISTINCT ON (t.seq, s.grp) t.at, t.seq, t.session, coalesce(t.reference, ''),"
        "        s.grp, s.query, coalesce(s.results <> 0, false)"
        " FROM t JOIN s ON s.session = t.session AND (s.at, s.seq) < (t.at, t.seq)"
        " ORDER BY t.seq, s.grp, s.at DESC, s.seq DESC", p).fetchall()
    rows.sort(key=lambda r: (r[0], r[1], r[4]))
    return {"ticket_searches": tuple(TicketSearch(at, session, ref, grp, query, found)
                                     for at, _, session, ref, grp, query, found in rows)}


def article_facts(conn: psycopg.Connection, p: dict[str, Any]) -> dict[str, Any]:
    """Views by source and votes per article (every event, then trails only), the trails'
    not-helpful votes with their reasons, and the tickets that followed them."""
    views: dict[str, dict[str, int]] = defaultdict(dict)
    votes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    trail_votes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for slug, kind, source, helpful, in_trail, n in conn.execute(
            "SELECT slug, type, coalesce(source, 'unknown'), coalesce(helpful, false),"
            f" coalesce({TRAIL}, false), count(*) FROM events WHERE {RANGE}"
            " AND type IN (%(t_view)s, %(t_vote)s) AND slug <> '' GROUP BY 1, 2, 3, 4, 5", p):
        if kind == ARTICLE_VIEW:
            views[slug][source] = views[slug].get(source, 0) + int(n)
        else:
            votes[slug][0 if helpful else 1] += int(n)
            if in_trail:
                trail_votes[slug][0 if helpful else 1] += int(n)
    downvotes = []
    for at, slug, data in conn.execute(
            f"SELECT at, slug, data::text FROM events WHERE {RANGE} AND type = %(t_vote)s"
            f" AND {TRAIL} AND slug <> '' AND NOT coalesce(helpful, false) ORDER BY at, seq",
            p):
        fields = json.loads(data)  # in Python: a reason or comment may hold \u0000
        downvotes.append(Downvote(at, slug, str(fields.get("reason") or ""),
                                  str(fields.get("comment") or "")))
    # Each session's not-helpful votes and tickets in trail order, cut into segments that end
    # at a ticket (a vote's segment is the number of tickets before it, plus one): a
    # segment's ticket followed its votes. Grouping, not a join, so no plan can go quadratic.
    segments = conn.execute(
        "SELECT max(at) FILTER (WHERE type = %(t_ticket)s),"
        " max(seq) FILTER (WHERE type = %(t_ticket)s),"
        " coalesce(max(reference) FILTER (WHERE type = %(t_ticket)s), ''),"
        " array_agg(DISTINCT slug) FILTER (WHERE type = %(t_vote)s) FROM ("
        "  SELECT session, type, at, seq, slug, reference, CASE WHEN type = %(t_vote)s THEN 1"
        "   ELSE 0 END + count(*) FILTER (WHERE type = %(t_ticket)s)"
        "   OVER (PARTITION BY session ORDER BY at, seq) AS segment"
        f"  FROM events WHERE {RANGE} AND {TRAIL} AND (type = %(t_ticket)s"
        "   OR (type = %(t_vote)s AND slug <> '' AND NOT coalesce(helpful, false)))) AS x"
        " GROUP BY session, segment HAVING count(*) FILTER (WHERE type = %(t_ticket)s) > 0"
        " AND count(*) FILTER (WHERE type = %(t_vote)s) > 0", p).fetchall()
    after = [(at, seq, slug, ref) for at, seq, ref, slugs in segments for slug in slugs]
    after.sort(key=lambda r: (r[0], r[1], r[2]))
    return {"views": {s: dict(ranked(c)) for s, c in sorted(views.items())},
            "votes": {s: (v[0], v[1]) for s, v in sorted(votes.items())},
            "trail_votes": {s: (v[0], v[1]) for s, v in sorted(trail_votes.items())},
            "downvotes": tuple(downvotes),
            "tickets_after": tuple(TicketAfter(at, slug, ref)
                                   for at, _, slug, ref in after)}


__all__ = ["article_facts", "postgres_facts", "prepare", "report_params", "session_facts",
           "side_facts"]
