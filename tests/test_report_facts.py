"""The report's event facts, computed by PostgreSQL in SQL, equal the facts folded in Python
from the same events (facts.fold_events, the definition), on scripted events chosen for the
corners: ties in time, events without a session, two tickets in one session, old and new vote
reasons, hostile text, a migration filling the columns of events stored before it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from widget_server.events import JSONEventStore, NewEvent
from widget_server.events.postgres import PostgresEventStore
from widget_server.insights.facts import EventFacts, Funnel, fold_events
from widget_server.queries import normalize_query
from widget_server.tickets import pg_schema

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SINCE, FIRST = NOW - timedelta(days=7), NOW - timedelta(days=35)
HOSTILE = ["'; DROP TABLE events; --", "back\\slash \\u0000 %s %(since)s", "🎫 ÀÉ \u202eevil",
           "nul \x00 inside", "refund"]


def sid(n: int) -> str:
    return f"s_{n:022d}"


def scripted() -> list[NewEvent]:
    """Sessions before and inside the range, with every kind of corner a report meets."""
    t = NOW - timedelta(days=2)
    events = [
        # A search and a view at the same instant: stored order decides (view after search).
        NewEvent(sid(1), "search", {"query": "refund", "results": 3}, t),
        NewEvent(sid(1), "article_view", {"slug": "billing/refunds", "source": "search"}, t),
        NewEvent(sid(1), "vote", {"slug": "billing/refunds", "helpful": False,
                                  "reason": "outdated", "comment": "Prices \x00 changed"},
                 t + timedelta(minutes=1)),
        NewEvent(sid(1), "vote", {"slug": "billing/refunds", "helpful": False,
                                  "reason": "Old prices"}, t + timedelta(minutes=2)),
        NewEvent(sid(1), "ticket_created", {"reference": "DB-1"}, t + timedelta(minutes=3)),
        NewEvent(sid(1), "search", {"query": "refunds", "results": 0}, t + timedelta(minutes=4)),
        NewEvent(sid(1), "vote", {"slug": "shipping", "helpful": False},
                 t + timedelta(minutes=5)),
        NewEvent(sid(1), "ticket_created", {"reference": "DB-2"}, t + timedelta(minutes=6)),
        # A view stored before the search of the same instant: no success for that search.
        NewEvent(sid(2), "article_view", {"slug": "billing/refunds", "source": "link"}, t),
        NewEvent(sid(2), "search", {"query": "refnd", "results": 0}, t),
        # Searches without a session, and a widget_open alone (a session never engaged).
        NewEvent(None, "search", {"query": "mars delivery", "results": 0}, t),
        NewEvent(None, "search", {"query": "mars delivery", "results": 0}, t),
        NewEvent(None, "vote", {"slug": "shipping", "helpful": True}, t),
        NewEvent(sid(3), "widget_open", {"page_url": "https://shop.example/"}, t),
        # A session that crosses the range's start, and one before it (history only).
        NewEvent(sid(4), "search", {"query": "mars delivery", "results": 0},
                 SINCE - timedelta(minutes=1)),
        NewEvent(sid(4), "article_view", {"slug": "mars", "source": ""}, SINCE),
        NewEvent(sid(5), "search", {"query": "refund", "results": 0}, FIRST + timedelta(days=1)),
        NewEvent(sid(6), "article_view", {"slug": "billing/refunds"}, NOW - timedelta(hours=1)),
        *funnel_corners(),
    ]
    for n, text in enumerate(HOSTILE):  # as the widget's events arrive: queries normalized
        query = normalize_query(text)
        events.append(NewEvent(sid(10 + n), "search", {"query": query, "results": n % 2},
                               NOW - timedelta(hours=n + 2)))
        events.append(NewEvent(sid(10 + n), "ticket_created", {"reference": f"DB-H{n}"},
                               NOW - timedelta(hours=n + 1)))
    rng = random.Random(7)  # and a few hundred ordinary sessions spread over the span
    for n in range(300):
        at = FIRST + timedelta(seconds=rng.randrange(35 * 86400))
        query = rng.choice(["reset password", "reset passwords", "dark mode", "invoice"])
        found = rng.random() < 0.6
        session = sid(1000 + n)
        events.append(NewEvent(session, "search", {"query": query, "results": 4 * found}, at))
        if found:
            slug = "help/" + query.replace(" ", "-")
            events.append(NewEvent(session, "article_view", {"slug": slug, "source": "search"},
                                   at + timedelta(seconds=20)))
            events.append(NewEvent(session, "vote", {"slug": slug,
                                                     "helpful": rng.random() < 0.5},
                                   at + timedelta(seconds=40)))
        if rng.random() < 0.4:
            events.append(NewEvent(session, "ticket_created", {"reference": f"DB-R{n}"},
                                   at + timedelta(minutes=1)))
    return events


def funnel_corners() -> list[NewEvent]:
    """One session per place in the self-service funnel (insights/facts.py)."""
    t, hour = NOW - timedelta(days=3), timedelta(hours=1)
    answered = {"query": "refund time", "results": 2, "confidence": 0.91,
                "answer": "billing/refunds", "locale": "en"}
    return [
        # Quoted an answer and closed the panel: confirmed.
        NewEvent(sid(20), "search", answered, t),
        NewEvent(sid(20), "widget_close", {}, t + timedelta(seconds=30)),
        # The same, but opened the contact form (and wrote nothing): assumed.
        NewEvent(sid(21), "search", answered, t),
        NewEvent(sid(21), "contact_open", {}, t + timedelta(seconds=20)),
        NewEvent(sid(21), "widget_close", {}, t + timedelta(seconds=30)),
        # A helpful vote, and a ticket a day and a minute later: confirmed, not escalated.
        NewEvent(sid(22), "article_view", {"slug": "shipping", "source": "search"}, t),
        NewEvent(sid(22), "vote", {"slug": "shipping", "helpful": True}, t + timedelta(minutes=1)),
        NewEvent(sid(22), "ticket_created", {"reference": "DB-F1"},
                 t + 24 * hour + timedelta(minutes=1)),
        # A ticket exactly 24 hours after the first search: escalated.
        NewEvent(sid(23), "search", {"query": "refund time", "results": 0}, t),
        NewEvent(sid(23), "ticket_created", {"reference": "DB-F2"}, t + 24 * hour),
        # A ticket before any search (ask-first), then a search: not escalated, assumed.
        NewEvent(sid(24), "ticket_created", {"reference": "DB-F3"}, t),
        NewEvent(sid(24), "search", {"query": "refund time", "results": 2}, t + hour),
        # Searched three hours ago: too recent to tell; with a ticket since: escalated.
        NewEvent(sid(25), "search", answered, NOW - 3 * hour),
        NewEvent(sid(25), "widget_close", {}, NOW - 3 * hour),
        NewEvent(sid(26), "search", {"query": "refund time", "results": 0}, NOW - 3 * hour),
        NewEvent(sid(26), "ticket_created", {"reference": "DB-F4"}, NOW - 2 * hour),
    ]


def test_the_funnel_places_each_session_by_its_formula(tmp_path: Path) -> None:
    store = JSONEventStore(tmp_path / "events", retention_days=None)
    store.append_many(funnel_corners())
    funnel = fold_events(store.iter_events(FIRST, NOW), SINCE, NOW, ZoneInfo("UTC")).funnel
    assert funnel == Funnel(engaged=7, searched=6, read=4, voted=1, escalated=2, confirmed=2,
                            assumed=2, recent=1)
    # With a 72-hour window the ticket a day after the helpful vote is its escalation, and
    # only the sessions that began exactly 72 hours before the end are decided.
    longer = fold_events(store.iter_events(FIRST, NOW), SINCE, NOW, ZoneInfo("UTC"), hours=72)
    assert longer.funnel == Funnel(engaged=7, searched=6, read=4, voted=1, escalated=3,
                                   confirmed=1, assumed=1, recent=2, hours=72)


@pytest.fixture
def stores(postgres_url: str, tmp_path: Path) -> Iterator[tuple[JSONEventStore,
                                                                PostgresEventStore]]:
    with pg_schema.connect(postgres_url) as conn:
        pg_schema.upgrade(conn)
    files = JSONEventStore(tmp_path / "events", retention_days=None)
    database = PostgresEventStore(postgres_url, retention_days=None)
    events = scripted()
    for start in range(0, len(events), 100):  # each store keeps a batch's order
        files.append_many(events[start:start + 100])
        database.append_many(events[start:start + 100])
    yield files, database
    database.close()


def folded(store: JSONEventStore, zone: str) -> EventFacts:
    return fold_events(store.iter_events(FIRST, NOW), SINCE, NOW, ZoneInfo(zone))


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/Los_Angeles"])
def test_postgresql_computes_the_facts_python_folds(
        stores: tuple[JSONEventStore, PostgresEventStore], zone: str) -> None:
    files, database = stores
    expected = folded(files, zone)
    got = database.report_facts(FIRST, SINCE, NOW, ZoneInfo(zone))
    assert got == expected
    assert got.queries.clusters.keys() == expected.queries.clusters.keys()
    # The corners were really there to get wrong.
    assert expected.help_sessions > 40 and expected.ticket_searches and expected.tickets_after
    assert any("\x00" in d.comment for d in expected.downvotes)
    mars = expected.zero[expected.queries.key("mars delivery")]
    # Two searches without a session count as one session; sid(4)'s came before the range.
    assert mars.sessions == 1 and mars.variants == {"mars delivery": 2}
    assert {"billing/refunds", "shipping"} <= {t.slug for t in expected.tickets_after}


def test_the_json_store_folds_in_python(stores: tuple[JSONEventStore, PostgresEventStore]) -> None:
    files, _ = stores
    assert files.report_facts(FIRST, SINCE, NOW, ZoneInfo("UTC")) == folded(files, "UTC")


def test_the_migration_fills_the_columns_of_events_stored_before_it(
        stores: tuple[JSONEventStore, PostgresEventStore], postgres_url: str) -> None:
    """Events written before 0005 have empty report columns: upgrading fills them from the
    data (0006: a search's answer too), so the facts are the same as for events written
    after."""
    files, database = stores
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE events SET query = NULL, results = NULL, slug = NULL,"
                     " source = NULL, helpful = NULL, reference = NULL")
        for name in ("event_facts", "search_answers"):
            migration = next(m for m in pg_schema.migrations() if m.name == name)
            update = migration.sql[migration.sql.index("UPDATE events"):]
            conn.execute(update)  # type: ignore[call-overload]
    assert database.report_facts(FIRST, SINCE, NOW, ZoneInfo("UTC")) == folded(files, "UTC")


def test_postgresql_counts_votes_as_the_fold_does(
        stores: tuple[JSONEventStore, PostgresEventStore]) -> None:
    files, database = stores
    for since in (FIRST, SINCE, NOW - timedelta(days=2) + timedelta(seconds=90)):
        expected = files.vote_counts(since, NOW)
        assert database.vote_counts(since, NOW) == expected
    assert expected["billing/refunds"] == (0, 1)  # of its two, the vote after since
