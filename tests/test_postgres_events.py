"""The event stores behind one protocol: the JSON-lines store, the memory store and PostgreSQL
(a fresh schema per test, see conftest) give the same answers to the same appends, byte for
byte; PostgreSQL's batches are all or nothing, its retention deletes whole days, its outages
are 503s naming it, and a report computed from it equals the one computed from files."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from cli.main import main
from widget_server.app import create_app
from widget_server.errors import DeskbellError, StorageUnavailable, ValidationFailed
from widget_server.events import (
    EventsFull,
    EventStore,
    JSONEventStore,
    MemoryEventStore,
    NewEvent,
    event_key,
)
from widget_server.events import postgres as pg_events
from widget_server.events.postgres import PostgresEventStore
from widget_server.insights import day_range, load_report, to_jsonable
from widget_server.search import reindex
from widget_server.settings import SettingsError, load_settings
from widget_server.tickets import JSONTicketStore, pg_schema
from widget_server.tickets.factory import open_event_store
from widget_server.tickets.postgres import PostgresTicketStore

from . import insights_seed
from .conftest import free_port
from .test_postgres_store import Relay, eventually, relay, via_port  # noqa: F401 (fixture)

S1 = "s_" + "a" * 22
S2 = "s_" + "B-_" * 7 + "x"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATEST = pg_schema.latest_version()
EVENT_STORES = ("json", "memory", "postgresql")
HOSTILE = [
    "'; DROP TABLE events; --",
    "Robert'); DELETE FROM events WHERE ('1'='1",
    'say "hi" \'there\'',
    "back\\slash \\' \\\\ \\x00 \\u0000 \\n",
    "nul \x00 inside", "\x00",
    "$1 $$ $tag$ %s %(since)s {}",
    "🎫 émoji ÀÉ \u202eevil",
    "tab\tnew\nline\r",
    "%", "_",
]

# -- helpers


def upgrade(url: str) -> None:
    with pg_schema.connect(url) as conn:
        pg_schema.upgrade(conn)


def public(event: dict[str, Any]) -> str:
    """An event as `deskbell export events --format jsonl` writes it (and with "_at")."""
    shown = {key: event[key] for key in ("at", "session", "type", "data")}
    return json.dumps(shown, ensure_ascii=False) + " " + event["_at"].isoformat()


def as_read(store: EventStore, since: datetime | None = None,
            until: datetime | None = None) -> list[str]:
    """Everything iter_events gives, as text: key order, values and types all count."""
    events = list(store.iter_events(since, until))
    assert all(list(e) == ["at", "session", "type", "data", "_at"] for e in events)
    return [public(e) for e in events]


@pytest.fixture
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[
        Callable[..., EventStore]]:
    """open_store(kind, **options): an event store of that kind, all kinds of one test sharing
    nothing; PostgreSQL's in its own schema, upgraded as `deskbell db upgrade` would."""
    opened: list[EventStore] = []
    url: list[str] = []

    def make(kind: str, **options: Any) -> EventStore:
        options.setdefault("retention_days", 3650)
        if kind == "json":
            store: EventStore = JSONEventStore(tmp_path / f"json{len(opened)}", **options)
        elif kind == "memory":
            store = MemoryEventStore(**options)
        else:
            if not url:
                url.append(request.getfixturevalue("postgres_url"))
                upgrade(url[0])
            store = PostgresEventStore(url[0], **options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture(params=EVENT_STORES)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def scripted() -> list[list[NewEvent]]:
    """Batches as the server writes them: widget batches sharing one instant (at=None stamps a
    batch with one time), server events, days apart, and two equal events in one batch."""
    return [
        [NewEvent(S1, "widget_open", {"page_url": "https://shop.example/cart"}, T0),
         NewEvent(S1, "search", {"query": "refund", "results": 3, "locale": "en"},
                  T0 + timedelta(seconds=20)),
         NewEvent(S1, "article_view", {"slug": "billing/refunds", "source": "search"},
                  T0 + timedelta(seconds=25, microseconds=123456))],
        [NewEvent(S1, "vote", {"slug": "billing/refunds", "helpful": False, "reason": "unclear"},
                  T0 + timedelta(minutes=2))],
        [NewEvent(None, "ticket_created", {"reference": "DB-AAAA-BBBB-CCCC", "category": ""},
                  T0 + timedelta(minutes=3))],
        [NewEvent(S2, "contact_open", {}, T0 + timedelta(days=1, hours=14)),
         NewEvent(S2, "contact_open", {}, T0 + timedelta(days=1, hours=14)),
         NewEvent(S2, "search", {"results": 0, "query": "dark mode"},  # fields in another order
                  T0 + timedelta(days=1, hours=15))],
        [NewEvent(S1, "search", {"query": "ümlaut 検索", "results": 0},
                  datetime(2026, 3, 3, 1, 0, tzinfo=ZoneInfo("Europe/Paris")))],  # 3/3 00:00Z
    ]


def write(store: EventStore, batches: list[list[NewEvent]]) -> None:
    for batch in batches:
        store.append_many(batch)


# -- the protocol, on every store


def test_every_store_reads_back_exactly_what_the_json_store_does(
        open_store: Callable[..., EventStore], kind: str) -> None:
    reference, store = open_store("json"), open_store(kind)
    write(reference, scripted())
    write(store, scripted())
    assert as_read(store) == as_read(reference)
    assert store.count() == reference.count() == 9
    assert store.days() == reference.days() == [date(2026, 3, 1), date(2026, 3, 2),
                                                 date(2026, 3, 3)]
    first = next(iter(store.iter_events()))
    assert first["at"] == "2026-03-01T09:00:00+00:00" and first["_at"] == T0
    last = list(store.iter_events())[-1]
    assert last["at"] == "2026-03-03T00:00:00+00:00" and last["data"]["query"] == "ümlaut 検索"


def test_the_json_store_writes_the_same_bytes_as_before(tmp_path: Path) -> None:
    store = EventStore(tmp_path)  # EventStore(data_dir) is still the JSON store
    assert isinstance(store, JSONEventStore) and isinstance(store, EventStore)
    store.append(S1, "search", {"query": "x", "results": 1}, at=T0)
    store.append(None, "vote", {"slug": "a", "helpful": True, "reason": "é\x00"},
                 at=T0 + timedelta(microseconds=5))
    assert (tmp_path / "events" / "2026-03-01.jsonl").read_bytes() == (
        b'{"at":"2026-03-01T09:00:00+00:00","session":"' + S1.encode() + b'","type":"search",'
        b'"data":{"query":"x","results":1}}\n'
        b'{"at":"2026-03-01T09:00:00.000005+00:00","session":null,"type":"vote",'
        b'"data":{"slug":"a","helpful":true,"reason":"\xc3\xa9\\u0000"}}\n')


def test_a_batch_shares_one_instant_and_keeps_its_order(
        open_store: Callable[..., EventStore], kind: str) -> None:
    store = open_store(kind)
    batch = [NewEvent(S1, "search", {"query": f"q{i}", "results": i}) for i in range(30)]
    before = datetime.now(UTC)
    assert store.append_many(batch) == 30
    events = list(store.iter_events())
    assert [e["data"]["query"] for e in events] == [f"q{i}" for i in range(30)]
    assert len({e["at"] for e in events}) == 1 and before <= events[0]["_at"] <= datetime.now(UTC)
    assert store.append_many([]) == 0


def test_iteration_goes_day_by_day_in_the_order_written_with_half_open_ranges(
        open_store: Callable[..., EventStore], kind: str) -> None:
    """Events are stamped when written, so this is time order; one written later with an older
    time (a seed, a migration) comes where it was written, as it does in a JSON day file."""
    store, reference = open_store(kind), open_store("json")
    late = [NewEvent(S2, "widget_open", {}, T0 - timedelta(hours=1)),
            NewEvent(S2, "widget_open", {}, datetime(2026, 2, 28, 23, tzinfo=UTC))]
    for target in (store, reference):
        write(target, [*scripted(), late])
    midnight = datetime(2026, 3, 2, tzinfo=UTC)
    ranges = [(None, None), (T0, None), (None, midnight), (T0 + timedelta(seconds=20), midnight),
              (midnight, midnight + timedelta(days=1)), (midnight + timedelta(hours=14), None),
              (midnight + timedelta(hours=14, microseconds=1), None),
              (datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 3, 0, 0, 0, 1, tzinfo=UTC)),
              (datetime(2026, 3, 1, 10, tzinfo=ZoneInfo("Europe/Paris")), None),
              (datetime(2027, 1, 1, tzinfo=UTC), None), (T0, T0)]
    for since, until in ranges:
        got = as_read(store, since, until)
        assert got == as_read(reference, since, until), (since, until)
        assert store.count(since, until) == len(got)
    order = [e["_at"] for e in store.iter_events()]
    assert [t.date() for t in order] == sorted(t.date() for t in order)
    assert order[:2] == [datetime(2026, 2, 28, 23, tzinfo=UTC), T0]
    assert order[6] == T0 - timedelta(hours=1)  # written after the rest of its day


def test_postgresql_pages_through_ties_without_losing_or_repeating(
        open_store: Callable[..., EventStore], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_events, "BATCH", 7)  # pages end inside runs of equal times
    store = open_store("postgresql")
    for n in range(6):
        store.append_many([NewEvent(S1, "search", {"query": f"b{n}-{i}", "results": i},
                                    T0 + timedelta(seconds=n // 2)) for i in range(11)])
    queries = [e["data"]["query"] for e in store.iter_events()]
    assert queries == [f"b{n}-{i}" for n in range(6) for i in range(11)]
    assert [e["data"]["query"] for e in store.iter_events(since=T0 + timedelta(seconds=1))] == \
        queries[22:]
    stopped = store.iter_events()
    assert next(stopped)["data"]["query"] == "b0-0"  # stopping early holds no connection
    assert store.count() == 66


@pytest.mark.parametrize(("session", "type_", "data", "details"), [
    ("nope", "search", {"query": "x", "results": 1}, {"session": "must be s_ followed by 22 "
                                                      "letters, digits, - or _"}),
    (S1[:-1], "widget_open", {}, {"session": "must be s_ followed by 22 letters, digits, - or _"}),
    (S1, "Bad-Type", {}, "type"),
    (S1, "search", {"query": "x", "results": 1, "email": "a@b.c"}, {"data.email": "unknown field"}),
    (S1, "search", {"query": "x" * 5000, "results": 1}, {"data": "at most 4096 bytes"}),
    (S1, "vote", {"slug": "a", "helpful": True, "reason": "lone \ud800"},
     {"data": "contains an invalid character"}),
])
def test_the_registry_refuses_the_same_events_everywhere_and_the_batch_stores_nothing(
        open_store: Callable[..., EventStore], kind: str, session: str, type_: str,
        data: dict[str, Any], details: Any) -> None:
    store, reference = open_store(kind), open_store("json")
    refusals = []
    for target in (store, reference):
        with pytest.raises(ValidationFailed) as refused:
            target.append_many([NewEvent(S2, "widget_open", {}), NewEvent(session, type_, data)])
        refusals.append((refused.value.message, refused.value.details))
        assert list(target.iter_events()) == [] and target.count() == 0
    assert refusals[0] == refusals[1]
    if isinstance(details, dict):
        assert refusals[0][1] == details
    else:
        assert set(refusals[0][1]) == {details}


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_stored_and_read_back_exactly(
        open_store: Callable[..., EventStore], kind: str, text: str) -> None:
    store, reference = open_store(kind), open_store("json")
    batch = [NewEvent(S1, "search", {"query": text, "results": 0, "locale": text}, T0),
             NewEvent(None, "vote", {"slug": text, "helpful": False, "reason": text}, T0),
             NewEvent(None, "ticket_created", {"reference": text, "category": text},
                      T0 + timedelta(seconds=1))]
    for target in (store, reference):
        target.append_many(batch)
    assert as_read(store) == as_read(reference)
    assert [e["data"]["reason"] for e in store.iter_events() if e["type"] == "vote"] == [text]
    assert store.count() == 3


def test_a_nul_is_kept_as_the_json_escape_in_postgresql(open_store: Callable[..., EventStore],
                                                        postgres_url: str) -> None:
    """jsonb cannot hold \\u0000: the data column is json, which keeps the escape as written."""
    store = open_store("postgresql")
    store.append(None, "vote", {"slug": "a\x00b", "helpful": True, "reason": "\x00"}, at=T0)
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT data::text, pg_typeof(data)::text FROM events").fetchone()
        assert row == ('{"slug":"a\\u0000b","helpful":true,"reason":"\\u0000"}', "json")
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (1,)  # not dropped
    assert next(iter(store.iter_events()))["data"] == {"slug": "a\x00b", "helpful": True,
                                                       "reason": "\x00"}


def test_the_daily_cap_refuses_a_whole_batch_and_keeps_what_was_written(
        open_store: Callable[..., EventStore], kind: str) -> None:
    store = open_store(kind, max_day_bytes=600)
    store.append(S1, "search", {"query": "a" * 100, "results": 1})
    store.append(S1, "search", {"query": "b" * 100, "results": 1})
    with pytest.raises(EventsFull) as caught:
        for _ in range(10):
            store.append(S1, "search", {"query": "c" * 100, "results": 1})
    assert caught.value.status == 507 and "daily size cap" in caught.value.message
    written = store.count()
    assert 2 <= written <= 4
    if kind != "json":  # the JSON store writes day file after day file; these are atomic
        with pytest.raises(EventsFull):
            store.append_many([NewEvent(S1, "contact_open", {}, T0),
                               *[NewEvent(S1, "search", {"query": "d" * 100, "results": 1})
                                 for _ in range(5)]])
        assert store.count() == written and store.days() == [datetime.now(UTC).date()]
    if kind == "postgresql":  # another machine on the same database: the cap is the day's
        other = open_store(kind, max_day_bytes=600)
        with pytest.raises(EventsFull):
            other.append(S1, "search", {"query": "e" * 100, "results": 1})
        assert other.count() == written


def test_the_cap_counts_what_the_json_store_would_write(open_store: Callable[..., EventStore],
                                                        postgres_url: str) -> None:
    store, reference = open_store("postgresql"), open_store("json")
    write(store, scripted())
    write(reference, scripted())
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT day, bytes, events FROM event_days ORDER BY day").fetchall()
    assert rows == [(day, path.stat().st_size, len(path.read_bytes().splitlines()))
                    for day, path in reference.day_files()]  # type: ignore[attr-defined]


def test_postgresql_refusing_a_value_halfway_stores_none_of_the_batch(
        open_store: Callable[..., EventStore]) -> None:
    store = open_store("postgresql")
    with pytest.raises(ValidationFailed, match="^event: PostgreSQL refused it"):
        store.append_many([NewEvent(S1, "widget_open", {}, T0),
                           NewEvent(S1, "search", {"query": "x", "results": float("nan")}, T0)])
    assert store.count() == 0 and store.days() == []
    store.append(S1, "widget_open", {}, at=T0)  # the connection is usable afterwards
    assert store.count() == 1


def test_retention_deletes_whole_days(open_store: Callable[..., EventStore], kind: str) -> None:
    store = open_store(kind, retention_days=10)
    for day in (1, 2, 3):
        store.append_many([NewEvent(S1, "widget_open", {},
                                    datetime(2026, 3, day, hour, tzinfo=UTC))
                           for hour in (0, 12, 23)])
    assert store.purge(today=date(2026, 3, 11)) == []
    assert len(store.purge(today=date(2026, 3, 13))) == 2  # 1 and 2 March, whole
    assert store.days() == [date(2026, 3, 3)]
    assert [e["at"][:13] for e in store.iter_events()] == ["2026-03-03T00", "2026-03-03T12",
                                                           "2026-03-03T23"]
    everything = open_store(kind, retention_days=None)
    assert everything.purge(today=date(2100, 1, 1)) == []


def test_opening_applies_retention(open_store: Callable[..., EventStore]) -> None:
    store = open_store("postgresql")
    old, recent = datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC) - timedelta(days=2)
    store.append(S1, "widget_open", {}, at=old)
    store.append(S1, "widget_open", {}, at=recent)
    kept = open_store("postgresql", retention_days=30)  # the server restarted, 30 days kept
    assert kept.days() == [recent.date()] and store.count() == 1


def test_concurrent_writers_lose_nothing(open_store: Callable[..., EventStore]) -> None:
    import threading

    stores = [open_store("postgresql") for _ in range(2)]  # two machines
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                stores[n % 2].append_many([NewEvent(S1, "search", {"query": f"q{n}-{i}",
                                                                   "results": i})] * 2)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    queries = [e["data"]["query"] for e in stores[0].iter_events()]
    assert sorted(queries) == sorted(f"q{n}-{i}" for n in range(6) for i in range(25)
                                     for _ in range(2))


def test_event_key_names_content_and_time_as_stores_write_it(
        open_store: Callable[..., EventStore]) -> None:
    store = open_store("postgresql")
    at = datetime(2026, 3, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
    store.append(S1, "widget_open", {"page_url": "x"}, at=at)
    event = next(iter(store.iter_events()))
    assert event_key(event) == (b'{"at":"2026-03-01T09:00:00+00:00","session":"' + S1.encode()
                                + b'","type":"widget_open","data":{"page_url":"x"}}')
    assert event_key({**event, "at": "2026-03-01T10:00:00+01:00"}) == event_key(event)


# -- outages


def test_nothing_listening_is_one_line_naming_postgresql_and_the_setting(
        postgres_url: str, tmp_path: Path) -> None:
    nowhere = via_port(postgres_url, free_port())
    with pytest.raises(StorageUnavailable, match=r"^cannot connect to PostgreSQL \(.*refused"):
        PostgresEventStore(nowhere)
    settings = load_settings(overrides={"event_store": nowhere, "data_dir": str(tmp_path)},
                             config_file=None, environ={})
    with pytest.raises(SettingsError) as refused:
        open_event_store(settings)
    assert isinstance(refused.value, DeskbellError)
    assert str(refused.value).startswith("setting event_store: cannot connect to PostgreSQL (")
    assert "\n" not in str(refused.value)


def test_a_lost_server_is_503_and_the_pool_reconnects(postgres_url: str,
                                                      relay: Relay) -> None:  # noqa: F811
    upgrade(postgres_url)
    flaky = PostgresEventStore(via_port(postgres_url, relay.port), timeout=1.0,
                               reconnect_timeout=2.0)
    try:
        flaky.append(S1, "widget_open", {}, at=T0)
        relay.stop()
        for call in (flaky.count, lambda: list(flaky.iter_events()), flaky.days,
                     lambda: flaky.append(S1, "widget_open", {}, at=T0)):
            with pytest.raises(StorageUnavailable) as down:
                call()
            assert down.value.status == 503
            assert down.value.message.startswith("PostgreSQL, where events are kept, cannot be "
                                                 "reached right now")
        time.sleep(3)  # longer than reconnect_timeout: the pool has stopped retrying
        relay.start()
        assert eventually(flaky.count) == 1
        flaky.check()
    finally:
        flaky.close()


# -- the setting, the server and the schema


@pytest.mark.parametrize("value", ["json", "memory", "postgresql://deskbell@db.example.com/x"])
def test_the_event_store_setting(value: str) -> None:
    settings = load_settings(config_file=None, environ={"DESKBELL_EVENT_STORE": value})
    assert settings.event_store == value
    assert load_settings(config_file=None, environ={}).event_store == "json"


@pytest.mark.parametrize(("value", "problem"), [
    ("sqlite", "expected json (files under data_dir), memory (nothing kept) or a PostgreSQL URL"),
    ("postgresql://deskbell:s3cret@db.example.com", "the PostgreSQL URL names no database"),
])
def test_a_bad_event_store_is_refused_naming_the_setting(value: str, problem: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(overrides={"event_store": value}, config_file=None, environ={})
    assert str(refused.value).startswith(f"setting event_store (--event-store): {problem}")
    assert "s3cret" not in str(refused.value)


def test_open_event_store_and_from_settings_follow_the_setting(tmp_path: Path,
                                                               postgres_url: str) -> None:
    def settings(value: str) -> Any:
        return load_settings(overrides={"event_store": value, "data_dir": str(tmp_path),
                                        "events_retention_days": 7, "events_max_day_mb": 3},
                             config_file=None, environ={})

    for value, kind in (("json", JSONEventStore), ("memory", MemoryEventStore)):
        for store in (open_event_store(settings(value)), EventStore.from_settings(settings(value))):
            assert type(store) is kind
            assert (store.retention_days, store.max_day_bytes) == (7, 3 * 1024 * 1024)
    upgrade(postgres_url)
    store = EventStore.from_settings(settings(postgres_url))
    assert type(store) is PostgresEventStore and store.retention_days == 7
    store.close()


def test_a_schema_at_version_1_stops_the_event_store_with_one_line(postgres_url: str,
                                                                   tmp_path: Path) -> None:
    upgrade(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DELETE FROM deskbell_schema WHERE version > 1")  # as version 1 left it
    settings = load_settings(overrides={"event_store": postgres_url, "data_dir": str(tmp_path)},
                             config_file=None, environ={})
    outdated = (f"setting event_store: the PostgreSQL schema is at version 1, this Deskbell "
                f"needs {LATEST}: run deskbell db upgrade")
    with pytest.raises(SettingsError) as refused:
        open_event_store(settings)
    assert str(refused.value) == outdated
    with pytest.raises(SettingsError, match=f"^{outdated}$"):
        create_app(settings)


def test_the_server_keeps_events_in_postgresql(postgres_url: str,
                                               make_settings: Callable[..., Any]) -> None:
    upgrade(postgres_url)
    settings = make_settings(event_store=postgres_url)
    reindex(Path(settings.kb_dir), settings.index_dir)
    batch = {"session": S1, "events": [
        {"type": "widget_open", "page_url": "https://shop.example/cart?email=a@b.c"}]}
    with TestClient(create_app(settings)) as client:
        built = client.app.state.services  # type: ignore[attr-defined]
        try:
            assert isinstance(built.events, PostgresEventStore)
            answer = client.post("/api/v1/events", json=batch)
            assert answer.status_code == 202 and answer.json() == {"accepted": 1}
            bad = client.post("/api/v1/events", json={**batch, "events": [{"type": "nope"}]})
            assert bad.status_code == 422
            found = client.get("/api/v1/search", params={"q": " Qwxyz Zzqx?? ", "session": S1,
                                                         "locale": "en"})
            assert found.status_code == 200 and found.json()["total"] == 0
            built.searches.flush(everything=True)
        finally:
            built.events.close()
    assert not (Path(settings.data_dir) / "events").exists()  # nothing went to files
    reread = PostgresEventStore(postgres_url)
    assert [(e["type"], e["data"]) for e in reread.iter_events()] == [
        ("widget_open", {"page_url": "https://shop.example/cart"}),
        ("search", {"query": "qwxyz zzqx", "results": 0, "confidence": 0.0, "answer": "",
                    "locale": "en"})]
    reread.close()


def test_db_upgrade_migrates_an_event_store_alone(postgres_url: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"DESKBELL_EVENT_STORE": postgres_url, "DESKBELL_TICKET_STORE": "json"}
    done = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[:2] == ["applied 0001_tickets", "applied 0002_events"]
    status = CliRunner().invoke(main, ["db", "status"], env=env)
    assert f"version {LATEST}, this Deskbell needs {LATEST} (up to date)" in status.output
    assert "0002_events" in status.output
    both = CliRunner().invoke(main, ["db", "status"], env={**env, "DESKBELL_TICKET_STORE":
                                                           postgres_url})
    assert both.output.count("PostgreSQL schema") == 1  # one database, listed once
    memory = CliRunner().invoke(main, ["db", "upgrade"], env={"DESKBELL_EVENT_STORE": "memory",
                                                             "DESKBELL_TICKET_STORE": "json"})
    assert memory.exit_code == 0 and "nothing to migrate" in memory.output


# -- the report


def test_the_report_from_postgresql_equals_the_report_from_files(
        tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    files = tmp_path / "files"
    written = insights_seed.seed(files, now)
    upgrade(postgres_url)
    events, tickets = PostgresEventStore(postgres_url), PostgresTicketStore(postgres_url)
    try:
        # The very same script, its stores swapped for PostgreSQL's.
        monkeypatch.setattr(insights_seed, "EventStore", lambda *a, **k: events)
        monkeypatch.setattr(insights_seed, "JSONTicketStore", lambda *a, **k: tickets)
        assert insights_seed.seed(tmp_path / "unused", now) == written
        assert events.count() == written["events"] and tickets.count() == written["tickets"]
        for zone, first, last in (("UTC", date(2026, 11, 1), date(2026, 11, 30)),
                                  ("Europe/Paris", date(2026, 11, 20), date(2026, 11, 29)),
                                  ("America/Los_Angeles", date(2026, 10, 25),
                                   date(2026, 11, 30))):
            tz = ZoneInfo(zone)
            since, until = day_range(first, last, tz)
            from_files = load_report(JSONEventStore(files, retention_days=None),
                                     JSONTicketStore(files), since, until, tz)
            from_postgresql = load_report(events, tickets, since, until, tz)
            assert to_jsonable(from_postgresql) == to_jsonable(from_files), zone
            assert from_postgresql.sessions.help_sessions > 0 and from_postgresql.tickets.total
    finally:
        events.close()
        tickets.close()


def test_export_events_reads_a_postgresql_only_node(postgres_url: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # A node keeping events in PostgreSQL has no data_dir/events folder at all.
    monkeypatch.chdir(tmp_path)
    upgrade(postgres_url)
    store = PostgresEventStore(postgres_url)
    try:
        write(store, scripted())
        expected = as_read(store)
    finally:
        store.close()
    env = {"DESKBELL_EVENT_STORE": postgres_url, "DESKBELL_DATA_DIR": str(tmp_path / "none"),
           "DESKBELL_EVENTS_RETENTION_DAYS": "3650"}  # the script's days are months old
    exported = CliRunner().invoke(main, ["export", "events", "--format", "jsonl"], env=env)
    assert exported.exit_code == 0, exported.output
    lines = [line for line in exported.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(expected) > 0
