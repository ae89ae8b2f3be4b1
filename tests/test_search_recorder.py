"""Searches are recorded by the server as it answers them (events/recorder.py): the true result
count, the answer quoted, the session the widget passes; keystrokes of one query count once;
the write happens behind the answer and nothing pending is lost at shutdown."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.errors import StorageUnavailable
from widget_server.events import SEARCH, JSONEventStore, MemoryEventStore, NewEvent
from widget_server.events.recorder import SearchRecorder
from widget_server.insights import load_report
from widget_server.search import reindex
from widget_server.settings import Settings

S1, S2 = "s_" + "a" * 22, "s_" + "b" * 22
OPEN = {"api_rate_limit": "100000/minute", "events_rate_limit": "100000/minute"}


@pytest.fixture
def site(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    settings = make_settings(**OPEN)
    reindex(Path(settings.kb_dir), settings.index_dir)
    with TestClient(create_app(settings)) as client:
        yield client


def recorder_of(client: TestClient) -> SearchRecorder:
    recorder: SearchRecorder = client.app.state.services.searches  # type: ignore[attr-defined]
    return recorder


def searches(client: TestClient) -> list[dict[str, Any]]:
    """The search events stored, after writing whatever is pending."""
    recorder_of(client).flush(everything=True)
    events = client.app.state.services.events  # type: ignore[attr-defined]
    return [dict(e) for e in events.iter_events() if e["type"] == SEARCH]


def type_out(client: TestClient, text: str, session: str | None = S1) -> dict[str, Any]:
    """What the panel sends as a visitor types `text` letter by letter: an instant preview
    and a full search per letter (the full one carries the session)."""
    answer: dict[str, Any] = {}
    for end in range(1, len(text) + 1):
        q = text[:end]
        if not q.strip():
            continue
        preview = client.get("/api/v1/search", params={"q": q, "instant": "1"})
        assert preview.status_code == 200
        params = {"q": q, "locale": "en", **({"session": session} if session else {})}
        full = client.get("/api/v1/search", params=params)
        assert full.status_code == 200, full.text
        answer = full.json()
    return answer


def test_a_query_typed_letter_by_letter_is_one_search_with_the_true_count(site: TestClient) -> None:
    answer = type_out(site, "reset my password")  # 17 letters: 33 requests
    stored = searches(site)
    assert len(stored) == 1
    assert stored[0]["session"] == S1
    assert stored[0]["data"] == {
        "query": "reset my password", "results": answer["total"], "locale": "en",
        "confidence": round(answer["confidence"], 3),
        "answer": answer["answer"]["slug"] if answer["answer"] else ""}
    assert answer["total"] > 0


def test_backspacing_is_the_same_search_and_a_new_topic_is_another(site: TestClient) -> None:
    type_out(site, "refnd")
    for q in ["refn", "ref", "refund", "refund policy"]:  # corrects the typo, types on
        assert site.get("/api/v1/search", params={"q": q, "session": S1}).status_code == 200
    type_out(site, "two factor")  # nothing in common: a second search
    assert [s["data"]["query"] for s in searches(site)] == ["refund policy", "two factor"]


def test_sessions_fold_apart_and_previews_alone_are_not_searches(site: TestClient) -> None:
    type_out(site, "refund", session=S1)
    type_out(site, "refund", session=S2)
    assert site.get("/api/v1/search", params={"q": "shipping", "instant": "1"}).status_code == 200
    stored = searches(site)
    assert sorted((s["session"], s["data"]["query"]) for s in stored) == [
        (S1, "refund"), (S2, "refund")]


def test_help_center_page_and_sessionless_api_searches_each_count(site: TestClient) -> None:
    for q in ["refund", "refund", "zzqx nothing here"]:
        assert site.get("/kb/search", params={"q": q}).status_code == 200
    api = site.get("/api/v1/search", params={"q": "two factor"}).json()
    assert site.get("/kb/search", params={"q": "   "}).status_code == 200  # nothing searched
    stored = searches(site)
    assert [(s["session"], s["data"]["query"]) for s in stored] == [
        (None, "refund"), (None, "refund"), (None, "zzqx nothing here"), (None, "two factor")]
    assert stored[2]["data"]["results"] == 0
    assert stored[3]["data"]["results"] == api["total"]


@pytest.mark.parametrize("session", ["abc", "s_" + "a" * 21, "s_" + "a" * 21 + "!"])
def test_a_malformed_session_is_refused_and_nothing_is_recorded(site: TestClient,
                                                               session: str) -> None:
    answer = site.get("/api/v1/search", params={"q": "refund", "session": session})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        "Parameter session must be s_ followed by 22 letters, digits, - or _")
    assert searches(site) == []


def test_the_report_counts_settled_searches(site: TestClient) -> None:
    """A scripted visitor: types a query letter by letter (one search), reads an article
    from it (a successful search), then tries something the KB lacks (zero results)."""
    type_out(site, "how do I get a refund")
    site.post("/api/v1/events", json={"session": S1, "events": [
        {"type": "article_view", "slug": "billing/refunds", "source": "search"}]})
    type_out(site, "qwzx gizmo")
    recorder_of(site).flush(everything=True)
    services = site.app.state.services  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    report = load_report(services.events, services.tickets, now - timedelta(days=1),
                         now + timedelta(minutes=1), ZoneInfo("UTC"))
    s = report.sessions
    assert (s.searches, s.successful_searches, s.zero_result_searches) == (2, 1, 1)
    assert [g.query for g in report.gaps.zero_results] == ["qwzx gizmo"]


def test_shutdown_writes_what_is_pending(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(**OPEN)
    reindex(Path(settings.kb_dir), settings.index_dir)
    with TestClient(create_app(settings)) as client:
        type_out(client, "refund")
        assert recorder_of(client).pending() == 1  # settles in 30 s; the server stops first
    stored = [e for e in JSONEventStore(Path(settings.data_dir)).iter_events()]
    assert [(e["type"], e["data"]["query"]) for e in stored] == [("search", "refund")]


# --- the recorder on its own -----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_search_is_written_once_the_visitor_stops_typing_for_the_settle_time() -> None:
    store, clock = MemoryEventStore(), Clock()
    recorder = SearchRecorder(store, settle=30, clock=clock, background=False)
    recorder.record(S1, "refund", 3, confidence=0.5, answer="", locale="en")
    clock.now = 29
    recorder.record(S1, "refund policy", 2, confidence=0.9, answer="billing/refunds",
                    locale="en")
    clock.now = 58  # 29 s after the last keystroke: still typing, maybe
    assert recorder.flush() == 0 and list(store.iter_events()) == []
    clock.now = 59
    assert recorder.flush() == 1
    [event] = store.iter_events()
    assert event["data"]["query"] == "refund policy" and event["data"]["answer"] == "billing/refunds"
    assert recorder.pending() == 0


def test_the_writer_thread_writes_settled_searches_by_itself() -> None:
    store = MemoryEventStore()
    recorder = SearchRecorder(store, settle=0.2, interval=0.05)
    recorder.record(S1, "refund", 3, confidence=0.5, answer="", locale="en")
    recorder.record(None, "shipping", 1, confidence=0.2, answer="", locale="")
    for _ in range(200):  # bounded: 10 s at most
        if len(list(store.iter_events())) == 2:
            break
        time.sleep(0.05)
    assert sorted(e["data"]["query"] for e in store.iter_events()) == ["refund", "shipping"]
    recorder.close()


class Unreachable(MemoryEventStore):
    """An event store whose server is down until `up` is set (fault injection)."""

    up = False

    def append_many(self, events: Any) -> int:
        if not self.up:
            raise StorageUnavailable("the event store cannot be reached")
        return super().append_many(events)


def test_searches_wait_for_an_unreachable_store_and_are_written_when_it_returns(
        caplog: pytest.LogCaptureFixture) -> None:
    store = Unreachable()
    recorder = SearchRecorder(store, settle=0, background=False)
    recorder.record(None, "refund", 3, confidence=0.5, answer="", locale="en")
    with caplog.at_level(logging.ERROR, logger="deskbell"):
        assert recorder.flush() == 0
    assert "could not record 1 searches yet (kept for the next try)" in caplog.text
    assert recorder.pending() == 1
    store.up = True
    recorder.record(None, "shipping", 1, confidence=0.2, answer="", locale="en")
    assert recorder.flush() == 2
    assert [e["data"]["query"] for e in store.iter_events()] == ["refund", "shipping"]


def test_searches_keep_their_own_time_and_order(tmp_path: Path) -> None:
    store = JSONEventStore(tmp_path / "events")
    times = iter(datetime(2026, 11, 30, 9, 0, s, tzinfo=UTC) for s in range(10))
    recorder = SearchRecorder(store, settle=0, now=lambda: next(times), background=False)
    recorder.record(S1, "refund", 3, confidence=0.5, answer="", locale="en")
    store.append_many([NewEvent(S1, "article_view", {"slug": "billing/refunds",
                                                      "source": "search"},
                                datetime(2026, 11, 30, 9, 0, 5, tzinfo=UTC))])
    recorder.record(None, "shipping", 1, confidence=0.2, answer="", locale="en")
    recorder.flush()
    assert [(e["type"], e["at"][11:19]) for e in sorted(store.iter_events(),
                                                         key=lambda e: e["at"])] == [
        ("search", "09:00:00"), ("search", "09:00:01"), ("article_view", "09:00:05")]


def test_a_result_clicked_in_the_preview_counts_once_with_the_full_answer() -> None:
    """The visitor clicks a result of the instant preview; the panel's full search of the
    same query lands just after the read. One search, with the full search's figures."""
    store, clock = MemoryEventStore(), Clock()
    recorder = SearchRecorder(store, settle=30, clock=clock, background=False)
    recorder.record(S1, "ship", 4, confidence=0.2, answer="", locale="en")
    recorder.record(S1, "shipping costs", 1, confidence=0.3, answer="", locale="en",
                    instant=True)
    recorder.settle(S1)  # the article read
    clock.now = 0.4
    recorder.record(S1, "shipping costs", 1, confidence=0.9, answer="billing/shipping-costs",
                    locale="en")
    clock.now = 4.9
    assert recorder.flush() == 0  # waits a little for its full answer
    clock.now = 5.5
    assert recorder.flush() == 1
    [event] = store.iter_events()
    assert event["data"] == {"query": "shipping costs", "results": 1, "confidence": 0.9,
                             "answer": "billing/shipping-costs", "locale": "en"}
    # After the read, a longer query is a new search, not a refinement of the one read.
    recorder.record(S1, "shipping costs abroad", 0, confidence=0.0, answer="", locale="en")
    assert recorder.flush(everything=True) == 1
    assert [e["data"]["query"] for e in store.iter_events()] == [
        "shipping costs", "shipping costs abroad"]


def test_typing_that_lands_after_the_click_is_still_the_search_that_led_to_the_read() -> None:
    """The list showed "ship"'s results while "shipping costs" was still on its way; the
    visitor clicked. The search recorded is "shipping costs", at the time of "ship" (before
    the read), with the full search's figures."""
    store = MemoryEventStore()
    times = iter(datetime(2026, 11, 30, 9, 0, s, tzinfo=UTC) for s in range(60))
    clock = Clock()
    recorder = SearchRecorder(store, settle=30, clock=clock, now=lambda: next(times),
                              background=False)
    recorder.record(S1, "ship", 1, confidence=0.4, answer="", locale="en")
    recorder.settle(S1)  # the article read, from "ship"'s list
    clock.now = 0.3
    recorder.record(S1, "shipping costs", 1, confidence=0.3, answer="", locale="en",
                    instant=True)
    clock.now = 0.8
    recorder.record(S1, "shipping costs", 1, confidence=0.9, answer="billing/shipping-costs",
                    locale="en")
    clock.now = 6
    assert recorder.flush() == 1
    [event] = store.iter_events()
    assert event["at"].startswith("2026-11-30T09:00:00")
    assert event["data"] == {"query": "shipping costs", "results": 1, "confidence": 0.9,
                             "answer": "billing/shipping-costs", "locale": "en"}


def test_after_a_read_a_new_search_is_another_search_even_if_it_begins_the_same() -> None:
    """"refund", then the article read (the events route settles the session), then, once
    the visitor has read for a while, "refund delay": two searches, the read between them."""
    store, clock = MemoryEventStore(), Clock()
    recorder = SearchRecorder(store, settle=30, clock=clock, background=False)
    recorder.record(S1, "refund", 3, confidence=0.5, answer="", locale="en")
    recorder.settle(S1)
    clock.now = 20
    recorder.record(S1, "refund delay", 0, confidence=0.1, answer="", locale="en")
    recorder.flush(everything=True)
    assert [e["data"]["query"] for e in store.iter_events()] == ["refund", "refund delay"]


def test_the_events_route_and_a_ticket_settle_the_session(site: TestClient) -> None:
    type_out(site, "refund")
    recorder = recorder_of(site)
    assert recorder._pending[S1].closed is False  # noqa: SLF001 (the state under test)
    site.post("/api/v1/events", json={"session": S1, "events": [
        {"type": "article_view", "slug": "billing/refunds", "source": "search"}]})
    assert recorder._pending[S1].closed is True  # noqa: SLF001
    type_out(site, "two factor", session=S2)
    created = site.post("/api/v1/tickets", json={
        "name": "Ada", "email": "ada@example.com", "subject": "2FA", "message": "Locked out.",
        "elapsed_ms": 5000, "trail": {"session": S2}})
    assert created.status_code == 201
    assert recorder._pending[S2].closed is True  # noqa: SLF001
