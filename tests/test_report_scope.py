"""A report reads only the tickets created or rated in its span (TicketStore.tickets_touched),
and is exactly the report that read every ticket: on the seeded month, in the JSON store, in
memory and in PostgreSQL, with tickets created long before the range but answered and rated
inside it, rated just outside it, and stored with an offset other than UTC at its edges."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests import insights_seed
from widget_server.events import EventStore
from widget_server.insights import load_report, to_jsonable
from widget_server.insights.report import Report, build_report, day_range, report_span
from widget_server.tickets import JSONTicketStore, MemoryTicketStore, TicketStore
from widget_server.tickets.store import touches

NOW = datetime(2026, 3, 29, 12, tzinfo=UTC)
TZ = ZoneInfo("Europe/Paris")
RANGES = {  # the admin page's default week, a month crossing the DST change, one day
    "week": day_range(datetime(2026, 3, 22).date(), datetime(2026, 3, 28).date(), TZ),
    "month": day_range(datetime(2026, 3, 1).date(), datetime(2026, 3, 28).date(), TZ),
    "day": day_range(datetime(2026, 3, 28).date(), datetime(2026, 3, 28).date(), TZ),
}
WEEK_SINCE, WEEK_UNTIL = RANGES["week"]


def _old(ref: str, created: datetime, rated: datetime | None, category: str = "Billing",
         offset: timedelta = timedelta(0)) -> dict[str, Any]:
    """A ticket created at `created`, answered an hour later, solved and rated at `rated`."""
    ticket = insights_seed._ticket(ref, created.astimezone(timezone(offset)), category,
                                   f"Old {ref}")
    if rated is not None:
        ticket.update(first_reply_at=(rated - timedelta(hours=3)).isoformat(),
                      solved_at=(rated - timedelta(hours=1)).isoformat(), status="solved",
                      resolution_count=1)
        ticket["ratings"].append({"csat": 2, "ces": 4, "nps": 3, "comment": "",
                                  "at": rated.isoformat(), "resolution": 1})
    return ticket


EXTRA = [
    # created 60 days before the week, answered and rated inside it
    _old("DB-OLD1-RATE-DINS", WEEK_SINCE - timedelta(days=60), WEEK_SINCE + timedelta(days=2)),
    # created long before, rated just before the week (inside the spike baseline)
    _old("DB-OLD2-RATE-BFOR", WEEK_SINCE - timedelta(days=90), WEEK_SINCE - timedelta(hours=1)),
    # created long before, rated after the week
    _old("DB-OLD3-RATE-AFTR", WEEK_SINCE - timedelta(days=90), WEEK_UNTIL + timedelta(hours=1)),
    # never rated, long before: read by no report of the seeded month
    _old("DB-OLD4-NONE-XXXX", WEEK_SINCE - timedelta(days=200), None),
    # at the week's edges, stored as +05:00: text order and moment order disagree
    _old("DB-EDGE-BFOR-0500", WEEK_SINCE - timedelta(minutes=1), None,
         offset=timedelta(hours=5)),
    _old("DB-EDGE-INSD-0500", WEEK_SINCE, None, offset=timedelta(hours=5)),
    _old("DB-EDGE-LAST-0500", WEEK_UNTIL - timedelta(microseconds=1), None,
         offset=timedelta(hours=-5)),
    _old("DB-EDGE-AFTR-0500", WEEK_UNTIL, None, offset=timedelta(hours=-5)),
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scope")
    insights_seed.seed(path, NOW, days=42, per_day=12)
    store = JSONTicketStore(path)
    for ticket in EXTRA:
        store.add(copy.deepcopy(ticket))
    return path


def _every_ticket(events: EventStore, store: TicketStore, since: datetime, until: datetime,
                  tz: ZoneInfo) -> Report:
    """The report as load_report built it before tickets_touched: from every ticket."""
    first, last = report_span(since, until)
    return build_report(store.iter_tickets(), list(events.iter_events(first, last)), since,
                        until, tz)


@pytest.fixture(params=["json", "memory", "postgresql"])
def store(request: pytest.FixtureRequest, seeded: Path) -> Iterator[TicketStore]:
    source = JSONTicketStore(seeded)
    if request.param == "json":
        yield source
        return
    if request.param == "memory":
        memory = MemoryTicketStore()
        for ticket in source.iter_tickets():
            memory.add(ticket)
        yield memory
        return
    from widget_server.tickets import pg_schema
    from widget_server.tickets.postgres import PostgresTicketStore

    url = request.getfixturevalue("postgres_url")
    with pg_schema.connect(url) as conn:
        pg_schema.upgrade(conn)
    pg = PostgresTicketStore(url)
    for ticket in source.iter_tickets():
        pg.add(ticket)
    yield pg
    pg.close()


@pytest.mark.parametrize("name", list(RANGES))
def test_report_is_the_report_of_every_ticket(store: TicketStore, seeded: Path,
                                               name: str) -> None:
    since, until = RANGES[name]
    events = EventStore(seeded, retention_days=3650)
    scoped = load_report(events, store, since, until, TZ)
    full = _every_ticket(events, store, since, until, TZ)
    assert scoped == full
    assert to_jsonable(scoped) == to_jsonable(full)
    assert scoped.tickets.total > 0 and scoped.satisfaction.ratings > 0


def test_touched_is_exactly_created_or_rated_in_range(store: TicketStore) -> None:
    first, last = report_span(WEEK_SINCE, WEEK_UNTIL)
    since, until = first.isoformat(), last.isoformat()
    every = list(store.iter_tickets())
    touched = list(store.tickets_touched(since, until))
    expected = [t["reference"] for t in every if touches(t, since, until)]
    assert [t["reference"] for t in touched] == expected  # the same order as iter_tickets
    assert len(expected) < len(every)
    refs = set(expected)
    assert {"DB-OLD1-RATE-DINS", "DB-OLD2-RATE-BFOR"} <= refs
    assert not {"DB-OLD3-RATE-AFTR", "DB-OLD4-NONE-XXXX"} & refs
    week = [t["reference"] for t in store.tickets_touched(WEEK_SINCE.isoformat(),
                                                          WEEK_UNTIL.isoformat())]
    assert {"DB-OLD1-RATE-DINS", "DB-EDGE-INSD-0500", "DB-EDGE-LAST-0500"} <= set(week)
    assert not {"DB-OLD2-RATE-BFOR", "DB-EDGE-BFOR-0500", "DB-EDGE-AFTR-0500"} & set(week)
    # a copy: changing what was read changes nothing stored
    touched[0]["status"] = "closed"
    assert store.get(touched[0]["reference"])["status"] != "closed"  # type: ignore[index]


def test_old_ticket_rated_in_range_counts(store: TicketStore, seeded: Path) -> None:
    """The ticket opened 60 days before the week and rated in it is in the week's ratings."""
    events = EventStore(seeded, retention_days=3650)
    with_old = load_report(events, store, WEEK_SINCE, WEEK_UNTIL, TZ)
    without = build_report(
        (t for t in store.iter_tickets() if t["reference"] != "DB-OLD1-RATE-DINS"),
        list(events.iter_events(*report_span(WEEK_SINCE, WEEK_UNTIL))), WEEK_SINCE,
        WEEK_UNTIL, TZ)
    assert with_old.satisfaction.ratings == without.satisfaction.ratings + 1
    assert with_old.satisfaction.nps_answers == without.satisfaction.nps_answers + 1
    assert with_old.tickets == without.tickets  # created long before: not in the volume


def test_naive_time_is_utc() -> None:
    """touches reads a naive time as UTC, as events.parse_time does."""
    ticket = {"created_at": "2026-03-22T00:30:00", "ratings": []}
    assert touches(ticket, "2026-03-22T00:00:00+00:00", "2026-03-23T00:00:00+00:00")
    assert not touches(ticket, "2026-03-22T01:00:00+00:00", "2026-03-23T00:00:00+00:00")


def test_a_spike_run_reaching_the_first_day_reads_every_ticket(
        seeded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a category spike's run of busy days reaches the span's first day, older tickets
    could move its start: that report is built again from every ticket created before its
    end."""
    from dataclasses import replace

    from widget_server.insights import report as report_module
    from widget_server.insights.spikes import Spike, Spikes

    since, until = RANGES["week"]
    first, _ = report_span(since, until)
    reads: list[str] = []

    class Counting(JSONTicketStore):
        def tickets_touched(self, since, until, fields=None):  # type: ignore[no-untyped-def]
            if since == report_module.EPOCH.isoformat():
                reads.append("every")
            return super().tickets_touched(since, until, fields)

    store = Counting(seeded)
    events = EventStore(seeded, retention_days=3650)
    load_report(events, store, since, until, TZ)
    assert reads == []  # the seeded spikes start within the week: the touched tickets suffice
    built = report_module.report_of

    def early_spike(*args: Any) -> Report:
        report = built(*args)
        spike = Spike("category", "Billing", 9, 1.0, 1e-6, first + timedelta(hours=30), 7, ())
        return replace(report, spikes=Spikes((spike,), ()))

    monkeypatch.setattr(report_module, "report_of", early_spike)
    load_report(events, store, since, until, TZ)
    assert reads == ["every"]
