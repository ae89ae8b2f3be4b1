"""Crashes and broken disks: kill -9 in the middle of ticket writes and reindexes, a missing or
corrupt index. Every acknowledged write survives, no record is half-written, the server starts
and says what to do."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.search import SearchService, current_generation, reindex, schema
from widget_server.settings import Settings
from widget_server.tickets import JSONTicketStore, new_ticket, set_status

from .conftest import GOOD_TICKET, OPEN_LIMITS

TICKET_KEYS = set(new_ticket({**GOOD_TICKET, "page_url": "", "locale": "en", "trail": {}})[0])
STORE_TRIALS = 50
REINDEX_TRIALS = 20


def _ticket(email: str) -> dict:
    fields = {**GOOD_TICKET, "email": email, "page_url": "", "locale": "en", "trail": {}}
    return new_ticket(fields)[0]


def _store_worker(data_dir: Path, ack: int) -> None:
    """Creates, status changes and erasures, reporting each one only after it returned."""
    store = JSONTicketStore(data_dir)
    previous = None
    for i in range(10_000):
        email = f"erase{i}@example.com" if i % 5 == 0 else f"keep{i}@example.com"
        ticket = store.add(_ticket(email))
        os.write(ack, f"A {ticket['reference']} {email}\n".encode())
        if previous and i % 2 == 0:
            store.update(previous, lambda t: set_status(t, "solved"))
            os.write(ack, f"S {previous}\n".encode())
        if i % 5 == 0:
            store.erase_email(email)
            os.write(ack, f"E {email}\n".encode())
        previous = ticket["reference"]


def _drain(fd: int) -> list[str]:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode().splitlines()


def _check_store(data_dir: Path, lines: list[str]) -> int:
    store = JSONTicketStore(data_dir)  # loads: a crash never leaves it unreadable
    tickets = {t["reference"]: t for t in store.iter_tickets()}
    erased = {line.split()[1] for line in lines if line.startswith("E ")}
    created = [line.split()[1:] for line in lines if line.startswith("A ")]
    solved = {line.split()[1] for line in lines if line.startswith("S ")}
    for ticket in tickets.values():
        assert set(ticket) == TICKET_KEYS and ticket["thread"], ticket  # no partial record
        assert ticket["email"] not in erased
    for reference, email in created:
        # An erasure already under way when the kill came may or may not have finished.
        if email.startswith("keep"):
            assert reference in tickets, reference
            assert store.get(reference) is not None
    for reference in solved:
        if tickets.get(reference):
            assert tickets[reference]["status"] == "solved"
    return len(created)


def test_kill_9_during_creates_status_changes_and_erasures(tmp_path: Path) -> None:
    rng = random.Random(20261123)
    acknowledged = 0
    for trial in range(STORE_TRIALS):
        data_dir = tmp_path / f"t{trial}"
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                _store_worker(data_dir, write)
            finally:
                os._exit(0)
        os.close(write)
        time.sleep(rng.uniform(0.01, 0.15))  # a random moment inside the burst
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        acknowledged += _check_store(data_dir, _drain(read))
    assert acknowledged > STORE_TRIALS  # the kills landed mid-burst, not before it began


def _slow_reindex(kb_dir: Path, index_dir: Path) -> None:
    original = schema._document

    def slow(article):  # type: ignore[no-untyped-def]
        time.sleep(0.03)  # stretch the build so the kill lands inside it
        return original(article)

    schema._document = slow
    reindex(kb_dir, index_dir, full=True)


def test_kill_9_during_reindex_keeps_the_previous_index_serving(indexed: Settings) -> None:
    rng = random.Random(7)
    kb, index_dir = Path(indexed.kb_dir), indexed.index_dir
    outcomes = {"old kept": 0, "new complete": 0}
    for _ in range(REINDEX_TRIALS):
        before = current_generation(index_dir)
        pid = os.fork()
        if pid == 0:
            try:
                _slow_reindex(kb, index_dir)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        after = current_generation(index_dir)
        outcomes["old kept" if after == before else "new complete"] += 1
        service = SearchService(index_dir)
        try:
            assert service.search("reset password").hits[0].slug == "account/reset-password"
        finally:
            service.close()
        (index_dir / "reindex.lock").unlink(missing_ok=True)
    assert outcomes["old kept"] >= 1
    result = reindex(kb, index_dir)  # the next run cleans the debris of every killed one
    assert not list(index_dir.glob("gen-*.tmp"))
    assert current_generation(index_dir) == result.generation


def _assert_search_says_reindex(client: TestClient) -> None:
    api = client.get("/api/v1/search", params={"q": "password"})
    assert api.status_code == 503
    assert "deskbell reindex" in api.json()["error"]["message"]
    page = client.get("/kb/search", params={"q": "password"})
    assert page.status_code == 503 and "deskbell reindex" in page.text
    assert client.get("/kb/").status_code == 503
    assert client.get("/healthz").json()["index_generation"] is None
    assert client.post("/api/v1/tickets", json=GOOD_TICKET).status_code == 201


def test_no_index_starts_and_tells_the_operator(make_settings) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(make_settings(**OPEN_LIMITS))) as client:
        _assert_search_says_reindex(client)


@pytest.mark.parametrize("garbage", ["", "gen-999999", "../../etc", "\x00\xff", "gen-000001\n" * 3])
def test_a_corrupt_current_file_does_not_stop_the_server(make_settings, garbage: str) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(**OPEN_LIMITS)
    settings.index_dir.mkdir(parents=True)
    (settings.index_dir / "CURRENT").write_text(garbage, "utf-8", errors="surrogateescape")
    with TestClient(create_app(settings)) as client:
        _assert_search_says_reindex(client)


def test_a_corrupt_generation_does_not_stop_the_server(make_settings, caplog) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(**OPEN_LIMITS)
    reindex(Path(settings.kb_dir), settings.index_dir)
    generation = settings.index_dir / str(current_generation(settings.index_dir))
    for part in generation.iterdir():
        part.write_bytes(b"{garbage")
    (generation / "catalog.json").write_text("{}", "utf-8")  # looks current, reads as nothing
    with TestClient(create_app(settings)) as client:
        _assert_search_says_reindex(client)
        assert "run deskbell reindex" in caplog.text
        reindex(Path(settings.kb_dir), settings.index_dir, full=True)
        client.app.state.services.search.check_every = 0  # type: ignore[attr-defined]
        assert client.get("/api/v1/search", params={"q": "password"}).status_code == 200


def test_no_index_through_real_uvicorn(live) -> None:  # type: ignore[no-untyped-def]
    server = live(index=False)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/api/v1/search", params={"q": "x"}).status_code == 503
        assert http.post("/api/v1/tickets", json=GOOD_TICKET).status_code == 201
