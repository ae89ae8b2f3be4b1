"""Past one machine: two real Deskbell nodes on loopback, sharing one PostgreSQL schema (the
tickets) and one Redis database (the rate limits), as an operator would run them.

Every node is `deskbell serve --workers 2` (benchmarks.common.live_server: its own process
group, port 0), with its own data_dir holding a copy of one reindexed index of the fixture
KB, the same explicit secret_key and an admin password. Words-only search (`semantic =
false`): these nodes are about sharing state, not ranking, and start faster without the
model in every worker.

- a 1,000 tickets sent at once (50 in flight) spread over both nodes: each acknowledged one
  is stored exactly once, nothing else is stored;
- an agent's reply made through node A's admin is seen at once through node B's visitor API
  and node B's admin, with node A's session cookie;
- a ticket limit of N per minute holds for both nodes together;
- `kill -9` of one node's whole process group during a stream of writes, TRIALS times (20,
  all in the suite): no acknowledged ticket lost or duplicated, and the other node answers
  every request it is sent throughout.

Tests a-c share one pair of nodes (module scope); each starts from an empty tickets table and
an empty Redis database. The kill test starts its own nodes, a new one for every trial.
Client addresses come as X-Forwarded-For, which uvicorn honours from 127.0.0.1 (its default
FORWARDED_ALLOW_IPS), so one test's visitors never share another's limit.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import re
import secrets
import shutil
import signal
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from benchmarks.common import (
    Server,
    ServiceMissing,
    live_server,
    postgres_schema,
    redis_database,
    run_in_own_loop,
)
from widget_server.search import reindex

from .conftest import FIXTURE_KB, POSTGRES_TEST_DB, unavailable

PASSWORD = "correct horse battery staple"
LIMIT = 6  # tickets per minute per address, on both nodes together
TRIALS = 20  # kill -9 trials, all run in the suite (60-80 s on 2 shared cores)
BURST = 1000
IN_FLIGHT = 50


def ticket(subject: str) -> dict[str, Any]:
    return {"name": "Ana", "email": "ana@example.com", "subject": subject,
            "message": "The printer jams on every page.", "elapsed_ms": 5000}


def forwarded(address: str) -> dict[str, str]:
    return {"x-forwarded-for": address}


# ---------------------------------------------------------------- shared stores and nodes


@dataclass
class Stores:
    """One PostgreSQL schema (upgraded, as `deskbell db upgrade` leaves it) and one Redis
    database shared by every node of this module; `reset` empties both."""

    postgres_url: str
    redis_url: str
    db: Any  # a psycopg connection (autocommit) with the schema on its search_path
    limits: Any  # a redis client on the claimed database

    def reset(self) -> None:
        self.db.execute("TRUNCATE tickets")
        self.limits.flushdb()

    def stored(self, prefix: str = "") -> list[tuple[str, str]]:
        """(reference, subject) of every stored ticket whose subject starts with `prefix`."""
        rows = self.db.execute("SELECT reference, document->>'subject' FROM tickets "
                               "WHERE starts_with(document->>'subject', %s)",
                               (prefix,)).fetchall()
        return [(str(r), str(s)) for r, s in rows]


@pytest.fixture(scope="module")
def stores() -> Iterator[Stores]:
    """A fresh schema of the test PostgreSQL (upgraded) and a claimed Redis database, for the
    whole module (the same helpers as conftest's postgres_url and redis_url)."""
    from widget_server.tickets import pg_schema

    try:
        with postgres_schema(POSTGRES_TEST_DB) as url, redis_database() as limits_url:
            with pg_schema.connect(url) as conn:
                pg_schema.upgrade(conn)
            limits = redis.Redis.from_url(limits_url)
            with psycopg.connect(url, autocommit=True) as db:
                yield Stores(url, limits_url, db, limits)
    except ServiceMissing as exc:
        unavailable(str(exc))


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture KB and one data folder with its reindexed index, copied for every node."""
    root = tmp_path_factory.mktemp("scale")
    shutil.copytree(FIXTURE_KB, root / "kb")
    reindex(root / "kb", root / "seed" / "index", semantic=False)
    return root


class Fleet:
    """Live nodes, each `deskbell serve --workers 2` on the shared stores; started in parallel
    from any thread, stopped together (SIGTERM to all first), killed one by one."""

    def __init__(self, root: Path, stores: Stores, secret_key: str, **settings: str) -> None:
        self.root = root
        self.settings = {"kb_dir": root / "kb", "ticket_store": stores.postgres_url,
                         "rate_limit_storage": stores.redis_url, "secret_key": secret_key,
                         "admin_password": PASSWORD, "semantic": "false", **settings}
        self._lock = threading.Lock()
        self._open: dict[int, tuple[AbstractContextManager[Server], Server]] = {}

    def start(self) -> Server:
        data_dir = self.root / f"node-{uuid.uuid4().hex[:8]}"
        shutil.copytree(self.root / "seed", data_dir)
        launcher = live_server({**self.settings, "data_dir": data_dir}, workers=2,
                               cwd=self.root, timeout=90)
        server = launcher.__enter__()
        with self._lock:
            self._open[server.pid] = (launcher, server)
        deadline = time.monotonic() + 60  # /healthz answered from one worker; wait for both
        while "".join(server.log).count("Application startup complete") < 2:
            assert server.process.poll() is None and time.monotonic() < deadline, \
                "".join(server.log)
            time.sleep(0.05)
        return server

    def start_many(self, count: int) -> list[Server]:
        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(lambda _: self.start(), range(count)))

    def kill(self, server: Server) -> None:
        """SIGKILL to the node's process group: the uvicorn supervisor and both workers."""
        os.killpg(server.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        self._close(server.pid)

    def _close(self, pid: int) -> None:
        with self._lock:
            launcher, _ = self._open.pop(pid)
        launcher.__exit__(None, None, None)

    def close(self) -> None:
        with self._lock:
            running = [server for _, server in self._open.values()]
        for server in running:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        for server in running:
            self._close(server.pid)


@pytest.fixture(scope="module")
def secret_key() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def pair(seed: Path, stores: Stores, secret_key: str) -> Iterator[tuple[Server, Server]]:
    fleet = Fleet(seed, stores, secret_key, ticket_rate_limit=f"{LIMIT}/minute")
    try:
        node_a, node_b = fleet.start_many(2)
        yield node_a, node_b
    finally:
        fleet.close()


@pytest.fixture
def nodes(pair: tuple[Server, Server], stores: Stores) -> tuple[Server, Server]:
    """The module's two nodes, with no ticket stored and no limit counted."""
    stores.reset()
    return pair


# ---------------------------------------------------------------- a: a burst over both nodes


async def _burst(nodes: tuple[Server, Server]) -> list[tuple[int, int, str]]:
    """BURST tickets, IN_FLIGHT at a time, alternating nodes; each address (X-Forwarded-For)
    sends five, under the limit of six, so every one should be taken. (node, status, ref)."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        async def send(i: int) -> tuple[int, int, str]:
            node = i % 2
            address = f"10.1.{i // 5 // 250}.{i // 5 % 250 + 1}"
            async with gate:
                answer = await client.post(f"{nodes[node].url}/api/v1/tickets",
                                           json=ticket(f"burst {i}"), headers=forwarded(address))
            reference = answer.json().get("reference", "") if answer.status_code == 201 else ""
            return node, answer.status_code, reference

        return await asyncio.gather(*(send(i) for i in range(BURST)))


def test_a_burst_over_two_nodes_stores_every_acknowledged_ticket_once(
        nodes: tuple[Server, Server], stores: Stores) -> None:
    answers = run_in_own_loop(_burst(nodes))
    assert Counter(status for _, status, _ in answers) == {201: BURST}
    assert Counter(node for node, _, _ in answers) == {0: BURST // 2, 1: BURST // 2}
    acknowledged = {f"burst {i}": ref for i, (_, _, ref) in enumerate(answers)}
    stored = stores.stored()
    assert len(stored) == BURST  # rows in PostgreSQL: nothing else was stored
    assert len({ref for ref, _ in stored}) == BURST  # references unique
    assert {subject: ref for ref, subject in stored} == acknowledged  # each one, once, as acked


# ---------------------------------------------------------------- b: one inbox for both admins


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_b_a_reply_through_node_a_admin_is_seen_at_once_through_node_b(
        nodes: tuple[Server, Server]) -> None:
    node_a, node_b = nodes
    opened = httpx.post(f"{node_b.url}/api/v1/tickets", json=ticket("Jammed printer"),
                        headers=forwarded("10.2.0.1"), timeout=10)
    assert opened.status_code == 201, opened.text
    reference, token = opened.json()["reference"], opened.json()["token"]
    reply = "Open the rear tray & pull the sheet <gently>."

    with httpx.Client(base_url=node_a.url, timeout=10, follow_redirects=False) as admin_a:
        form = admin_a.get("/admin/login")  # the real form: its CSRF field and cookie
        logged_in = admin_a.post("/admin/login", data={"csrf": csrf_of(form.text),
                                                       "password": PASSWORD, "next": "/admin/"})
        assert logged_in.status_code == 303 and logged_in.headers["location"] == "/admin/"
        session = admin_a.cookies["deskbell_admin"]
        page = admin_a.get(f"/admin/tickets/{reference}")
        assert page.status_code == 200 and "Jammed printer" in page.text
        sent = admin_a.post(f"/admin/tickets/{reference}/reply",
                            data={"csrf": csrf_of(page.text), "body": reply, "status": "pending"})
        assert sent.status_code == 303, sent.text

    # At once, no waiting: node B reads the row node A's worker committed.
    seen = httpx.get(f"{node_b.url}/api/v1/tickets/{reference}", timeout=10,
                     headers={"authorization": f"Bearer {token}"})
    assert seen.status_code == 200, seen.text
    assert seen.json()["status"] == "pending"
    assert [(e["author"], e["body"]) for e in seen.json()["thread"]][-1] == ("agent", reply)

    # Node A's session cookie, and only it, opens node B's admin: both sign with one key.
    with httpx.Client(base_url=node_b.url, timeout=10, follow_redirects=False,
                      cookies={"deskbell_admin": session}) as admin_b:
        page_b = admin_b.get(f"/admin/tickets/{reference}")
        assert page_b.status_code == 200, page_b.headers.get("location")
        assert "Open the rear tray &amp; pull the sheet &lt;gently&gt;." in page_b.text
        inbox = admin_b.get("/admin/", params={"status": "pending"})
        assert inbox.status_code == 200 and reference in inbox.text
        # The session's CSRF token travels in the cookie: node B takes node A's form token.
        noted = admin_b.post(f"/admin/tickets/{reference}/note",
                             data={"csrf": csrf_of(page.text), "body": "Seen on node B"})
        assert noted.status_code == 303, noted.text
    with httpx.Client(base_url=node_b.url, timeout=10, follow_redirects=False) as anonymous:
        assert anonymous.get(f"/admin/tickets/{reference}").status_code == 303  # to the login


# ---------------------------------------------------------------- c: one limit for both nodes


def test_c_a_ticket_limit_holds_across_both_nodes_together(nodes: tuple[Server, Server],
                                                           stores: Stores) -> None:
    answers = []
    with httpx.Client(timeout=10) as client:
        for i in range(2 * LIMIT):  # A, B, A, B, ... from one visitor address
            answers.append(client.post(f"{nodes[i % 2].url}/api/v1/tickets",
                                       json=ticket(f"limited {i}"),
                                       headers=forwarded("10.3.0.1")))
    assert [a.status_code for a in answers] == [201] * LIMIT + [429] * LIMIT
    assert all(int(a.headers["retry-after"]) > 0 for a in answers[LIMIT:])
    assert sorted(s for _, s in stores.stored()) == sorted(f"limited {i}" for i in range(LIMIT))
    # Another address is not held back by the first one's count.
    other = httpx.post(f"{nodes[1].url}/api/v1/tickets", json=ticket("someone else"),
                       headers=forwarded("10.3.0.2"), timeout=10)
    assert other.status_code == 201


# ---------------------------------------------------------------- d: kill -9 during writes


LANES = 4  # requests in flight to each node during a kill trial


@dataclass
class Sent:
    node: str  # "victim" or "survivor"
    subject: str
    status: int | None = None  # None: no answer (a transport error)
    reference: str = ""
    error: str = ""
    after_kill: bool = False  # sent after the kill
    failed_after_kill: bool = False  # its transport error came after the kill


@dataclass
class Trial:
    number: int
    sent: list[Sent] = field(default_factory=list)

    def of(self, node: str) -> list[Sent]:
        return [s for s in self.sent if s.node == node]


async def _kill_during_writes(number: int, survivor: Server, victim: Server,
                              kill: Any) -> Trial:
    """Writes stream to both nodes (LANES each); once the victim has acknowledged a few and a
    random moment has passed, its process group is killed; the survivor's stream goes on a
    little longer, then stops."""
    trial = Trial(number)
    killed = asyncio.Event()
    done = asyncio.Event()
    started = time.monotonic()
    limits = httpx.Limits(max_connections=4 * LANES, max_keepalive_connections=4 * LANES)

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        async def lane(node: str, server: Server, lane: int) -> None:
            for i in range(10_000):
                if done.is_set():
                    return
                sent = Sent(node, f"kill {number} {node} {lane}.{i}", after_kill=killed.is_set())
                trial.sent.append(sent)
                try:
                    answer = await client.post(f"{server.url}/api/v1/tickets",
                                               json=ticket(sent.subject))
                except httpx.TransportError as exc:
                    sent.error = f"{type(exc).__name__}: {exc}"
                    sent.failed_after_kill = killed.is_set()  # kill() never yields the loop
                    if node == "victim":
                        return  # the node is gone (or a failure before the kill: asserted)
                    continue
                sent.status = answer.status_code
                if answer.status_code == 201:
                    sent.reference = answer.json()["reference"]

        lanes = [asyncio.create_task(lane(node, server, n)) for n in range(LANES)
                 for node, server in (("victim", victim), ("survivor", survivor))]
        moment = random.uniform(0.15, 0.45)
        while (sum(s.status == 201 for s in trial.of("victim")) < 5
               or time.monotonic() - started < moment) and time.monotonic() - started < 20:
            await asyncio.sleep(0.01)  # (a victim that never answers fails the checks after)
        kill(victim)
        killed.set()
        after = time.monotonic()
        while (sum(s.after_kill and s.status == 201 for s in trial.of("survivor")) < 5
               or time.monotonic() - after < 0.3) and time.monotonic() - after < 20:
            await asyncio.sleep(0.01)
        done.set()
        await asyncio.gather(*lanes)
    return trial


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_d_kill_9_of_a_node_during_writes_loses_nothing_and_the_other_keeps_answering(
        seed: Path, stores: Stores, secret_key: str) -> None:
    """TRIALS (20) kill -9 trials in the suite, one live node killed in each, 60-80 s on 2
    cores: new nodes start two at a time in the background while trials run, each node is the
    survivor of one trial and the victim of the next."""
    stores.reset()
    fleet = Fleet(seed, stores, secret_key, ticket_rate_limit="1000000/minute")
    spares: queue.Queue[Server | BaseException] = queue.Queue()
    slots = threading.Semaphore(2)  # nodes starting or ready beyond the two in use
    stop = threading.Event()

    def spawn(count: int) -> None:
        for _ in range(count):
            while not slots.acquire(timeout=0.2):
                if stop.is_set():
                    return
            if stop.is_set():
                return
            try:
                spares.put(fleet.start())
            except BaseException as exc:  # reported by the test's thread, never lost
                spares.put(exc)
                return

    def next_node() -> Server:
        got = spares.get(timeout=120)
        slots.release()
        if isinstance(got, BaseException):
            raise got
        return got

    needed = TRIALS + 1  # two to begin with, then one new node per trial but the last
    spawners = [threading.Thread(target=spawn, args=(needed // 2 + needed % 2 * (1 - n),))
                for n in range(2)]
    trials: list[Trial] = []
    try:
        for thread in spawners:
            thread.start()
        older, newer = next_node(), next_node()
        for number in range(TRIALS):
            trial = run_in_own_loop(_kill_during_writes(number, newer, older, fleet.kill))
            trials.append(trial)
            assert _refused(older.port), f"trial {number}: a worker of the killed node survived"
            if number + 1 < TRIALS:
                older, newer = newer, next_node()
    finally:
        stop.set()
        for thread in spawners:
            thread.join(timeout=120)
        while not spares.empty():
            spares.get_nowait()
        fleet.close()

    stored: dict[str, list[str]] = {}
    for reference, subject in stores.stored("kill "):
        stored.setdefault(subject, []).append(reference)
    assert all(len(refs) == 1 for refs in stored.values()), "a ticket was stored twice"
    unacknowledged = 0
    for trial in trials:
        survivor, victim = trial.of("survivor"), trial.of("victim")
        # The other node answered every request throughout, before and after the kill.
        assert all(s.status in (201, 429) for s in survivor), \
            [(s.status, s.error) for s in survivor if s.status not in (201, 429)]
        assert sum(s.after_kill and s.status == 201 for s in survivor) >= 5
        # The victim took writes until it was killed: it failed only from the kill on.
        assert sum(s.status == 201 for s in victim) >= 5
        assert all(s.status == 201 for s in victim if not s.error and s.status is not None)
        assert any(s.error for s in victim), f"trial {trial.number}: the kill cut no request"
        assert all(s.failed_after_kill for s in victim if s.error), \
            [s for s in victim if s.error and not s.failed_after_kill]
        for sent in trial.sent:
            if sent.status == 201:  # every acknowledged ticket is there, as acknowledged
                assert stored.get(sent.subject) == [sent.reference], sent
            elif sent.subject in stored:
                unacknowledged += 1
                assert sent.node == "victim" and sent.error, sent  # cut by the kill only
    total = sum(len(t.sent) for t in trials)
    acked = sum(s.status == 201 for t in trials for s in t.sent)
    print(f"{TRIALS} kills: {acked} of {total} writes acknowledged, all stored once; "
          f"{unacknowledged} cut by a kill were stored unacknowledged")
