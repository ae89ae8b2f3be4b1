"""The event store keeps every acknowledged event, survives torn writes and cannot be flooded."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from widget_server.errors import ValidationFailed
from widget_server.events import EventsFull, EventStore, NewEvent

S1 = "s_" + "a" * 22
S2 = "s_" + "B-_" * 7 + "x"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_appended_events_read_back_in_order_with_their_data(tmp_path):
    store = EventStore(tmp_path)
    store.append(S1, "search", {"query": "refund", "results": 3}, at=T0)
    store.append(S1, "article_view", {"slug": "refunds", "source": "search"},
                 at=T0 + timedelta(minutes=1))
    events = list(store.iter_events())
    assert [(e["session"], e["type"], e["data"]) for e in events] == [
        (S1, "search", {"query": "refund", "results": 3}),
        (S1, "article_view", {"slug": "refunds", "source": "search"}),
    ]
    assert events[0]["at"] == "2026-03-01T09:00:00+00:00"


def test_one_file_per_utc_day_and_range_is_half_open(tmp_path):
    store = EventStore(tmp_path, retention_days=3650)
    later = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    store.append_many([NewEvent(S1, "widget_open", {}, T0),
                       NewEvent(S1, "contact_open", {}, later)])
    assert sorted(p.name for p in (tmp_path / "events").iterdir()) == [
        "2026-03-01.jsonl", "2026-03-02.jsonl"]
    got = list(store.iter_events(since=T0, until=later))
    assert [e["type"] for e in got] == ["widget_open"]


def test_a_torn_last_line_is_skipped_and_the_next_event_starts_on_a_fresh_line(tmp_path):
    store = EventStore(tmp_path, retention_days=3650)
    store.append(S1, "widget_open", {}, at=T0)
    path = store.path_for(T0.date())
    with path.open("ab") as fh:  # a crash in the middle of a write
        fh.write(b'{"at":"2026-03-01T09:05:00+00:00","session":"s_tor')
    assert [e["type"] for e in store.iter_events()] == ["widget_open"]
    reopened = EventStore(tmp_path, retention_days=3650)  # the server restarted
    reopened.append(S1, "contact_open", {}, at=T0 + timedelta(minutes=6))
    assert [e["type"] for e in reopened.iter_events()] == ["widget_open", "contact_open"]


def test_garbage_lines_never_break_reading(tmp_path):
    store = EventStore(tmp_path, retention_days=3650)
    store.path_for(T0.date()).write_bytes(b'\xff\xfe\n[1,2]\n{"at":"nope","type":"x","data":{}}\n')
    store.append(S1, "widget_open", {}, at=T0)
    assert [e["type"] for e in store.iter_events()] == ["widget_open"]


def test_concurrent_appends_lose_nothing(tmp_path):
    store = EventStore(tmp_path)

    def work(n: int) -> None:
        for i in range(50):
            store.append(S1, "search", {"query": f"q{n}-{i}", "results": i})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queries = [e["data"]["query"] for e in store.iter_events()]
    assert len(queries) == 400 and len(set(queries)) == 400


def test_retention_deletes_old_day_files_on_startup(tmp_path):
    store = EventStore(tmp_path, retention_days=3650)
    old, recent = datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC) - timedelta(days=2)
    store.append(S1, "widget_open", {}, at=old)
    store.append(S1, "widget_open", {}, at=recent)
    kept = EventStore(tmp_path, retention_days=30)
    assert [d for d, _ in kept.day_files()] == [recent.date()]


def test_purge_uses_the_given_day(tmp_path):
    store = EventStore(tmp_path, retention_days=10)
    store.append(S1, "widget_open", {}, at=datetime(2026, 3, 1, tzinfo=UTC))
    assert store.purge(today=date(2026, 3, 11)) == []
    assert len(store.purge(today=date(2026, 3, 12))) == 1


def test_daily_size_cap_refuses_more_and_keeps_what_was_written(tmp_path):
    store = EventStore(tmp_path, max_day_bytes=600)
    store.append(S1, "search", {"query": "a" * 100, "results": 1})
    store.append(S1, "search", {"query": "b" * 100, "results": 1})
    with pytest.raises(EventsFull) as caught:
        for _ in range(10):
            store.append(S1, "search", {"query": "c" * 100, "results": 1})
    assert caught.value.status == 507
    assert len(list(store.iter_events())) >= 2
    assert all(json.loads(line) for line in store.path_for(datetime.now(UTC).date()).open("rb"))


@pytest.mark.parametrize(
    ("session", "kind", "data"),
    [("nope", "search", {}), (S1[:-1], "search", {}), (S1, "Bad-Type", {}),
     (S1, "search", {"query": "x" * 5000})],
)
def test_bad_events_are_refused_and_nothing_is_written(tmp_path, session, kind, data):
    store = EventStore(tmp_path)
    with pytest.raises(ValidationFailed):
        store.append_many([NewEvent(S2, "widget_open", {}), NewEvent(session, kind, data)])
    assert list(store.iter_events()) == []


def test_server_side_events_may_have_no_session(tmp_path):
    store = EventStore(tmp_path)
    store.append(None, "ticket_created", {"reference": "DB-AAAA-BBBB-CCCC", "category": ""})
    assert [e["session"] for e in store.iter_events()] == [None]


# --- POST /api/v1/events, through the real app -------------------------------------------------


def make_client(tmp_path, **overrides):
    from starlette.testclient import TestClient

    from widget_server.app import create_app
    from widget_server.settings import load_settings

    settings = load_settings(overrides={"kb_dir": str(tmp_path / "kb"),
                                        "data_dir": str(tmp_path / "data"), **overrides},
                             config_file=None, environ={})
    app = create_app(settings)
    return TestClient(app), app.state.services.events


BATCH = {"session": S1, "events": [
    {"type": "widget_open", "page_url": "https://shop.example/cart?email=a@b.c"},
    {"type": "article_view", "slug": "refund-policy", "source": "search"},
    {"type": "contact_open"},
    {"type": "widget_close"},
]}


def test_the_widget_batch_is_acknowledged_and_stored_without_personal_data(tmp_path):
    client, store = make_client(tmp_path)
    with client:
        response = client.post("/api/v1/events", json=BATCH)
    assert response.status_code == 202 and response.json() == {"accepted": 4}
    events = list(store.iter_events())
    assert [e["type"] for e in events] == ["widget_open", "article_view", "contact_open",
                                           "widget_close"]
    assert events[0]["data"] == {"page_url": "https://shop.example/cart"}
    assert events[1]["data"] == {"slug": "refund-policy", "source": "search"}
    raw = b"".join(p.read_bytes() for _, p in store.day_files())
    assert b"testclient" not in raw and b"a@b.c" not in raw  # no client address, no email


def test_an_invalid_batch_gets_422_naming_the_field_and_stores_nothing(tmp_path):
    client, store = make_client(tmp_path)
    bad = {"session": S1, "events": [*BATCH["events"],
                                     {"type": "article_view", "slug": "../etc"},
                                     {"type": "search", "query": "x", "results": 9}]}
    with client:
        response = client.post("/api/v1/events", json=bad)
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {
        "events[4].slug": "must be an article slug",
        # a browser cannot report searches: the server counts them as it answers them
        "events[5].type": "searches are recorded by the server as it answers them: pass "
                          "session to GET /api/v1/search instead"}
    assert list(store.iter_events()) == []


@pytest.mark.parametrize(("kwargs", "status"), [
    ({"content": b"session=x", "headers": {"content-type": "application/x-www-form-urlencoded"}},
     415),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
    ({"json": [1, 2]}, 400),
    ({"json": BATCH, "headers": {"origin": "https://evil.example"}}, 403),
])
def test_malformed_or_foreign_requests_are_refused(tmp_path, kwargs, status):
    client, store = make_client(tmp_path)
    with client:
        response = client.post("/api/v1/events", **kwargs)
    assert response.status_code == status
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert list(store.iter_events()) == []


def test_one_session_cannot_flood_the_store(tmp_path):
    client, store = make_client(tmp_path, events_session_limit="6/hour")
    with client:
        first = client.post("/api/v1/events", json=BATCH)
        second = client.post("/api/v1/events", json=BATCH)
        other = client.post("/api/v1/events", json={**BATCH, "session": S2})
    assert first.status_code == 202
    assert second.status_code == 429 and int(second.headers["retry-after"]) > 0
    assert other.status_code == 202
    assert len(list(store.iter_events())) == 8


def test_one_address_cannot_flood_the_store(tmp_path):
    client, store = make_client(tmp_path, events_rate_limit="3/minute")
    with client:
        codes = [client.post("/api/v1/events", json={"session": f"s_{n:022d}",
                                                     "events": [{"type": "contact_open"}]})
                 .status_code for n in range(5)]
    assert codes == [202, 202, 202, 429, 429]
    assert len(list(store.iter_events())) == 3


def test_a_full_day_file_answers_507_and_keeps_earlier_events(tmp_path):
    client, store = make_client(tmp_path)
    store.max_day_bytes = 700
    with client:
        codes = [client.post("/api/v1/events", json={**BATCH, "session": f"s_{n:022d}"})
                 .status_code for n in range(3)]
    assert codes[0] == 202 and codes[-1] == 507
    assert len(list(store.iter_events())) == 4


def test_a_day_file_that_cannot_be_opened_is_a_503_naming_it_and_nothing_changes(tmp_path):
    """A folder where a day file should be: reading the events says which file, the insights
    page answers 503 with that message (not a crash), and the other days are untouched."""
    from widget_server.errors import StorageUnavailable

    store = EventStore(tmp_path / "data", retention_days=3650)
    store.append(S1, "contact_open", {}, at=datetime(2026, 3, 1, 9, tzinfo=UTC))
    broken = tmp_path / "data" / "events" / "2026-03-02.jsonl"
    broken.mkdir()
    with pytest.raises(StorageUnavailable) as caught:
        list(store.iter_events())
    assert caught.value.status == 503
    assert str(broken) in caught.value.message and "nothing was changed" in caught.value.message
    assert [e["type"] for e in store.iter_events(until=datetime(2026, 3, 1, 23, tzinfo=UTC))] == [
        "contact_open"]
