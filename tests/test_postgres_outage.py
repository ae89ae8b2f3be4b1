"""PostgreSQL stopped and started again under a live Deskbell node taking tickets.

The test owns its PostgreSQL 15 cluster (initdb and pg_ctl in a temporary folder, on a free
loopback port; run as the `postgres` user when the test runs as root, which initdb refuses),
so it can stop the server for real: once with `pg_ctl stop -m fast` (an operator's restart:
connections are closed) and once with `-m immediate` (a crash: no shutdown checkpoint,
recovery from the WAL at the next start). One `deskbell serve --workers 2` node keeps its
tickets there while four visitors send tickets without a pause. While PostgreSQL is down,
ticket requests answer 503 with the message naming PostgreSQL, /healthz answers 503
(degraded, the ticket store down) and search keeps answering; no acknowledged ticket is
lost or stored twice; once PostgreSQL is back the same node process (no restart) takes
tickets again through both workers' pools, and /healthz says the store is up.

With -s it prints how long recovery took and two things it does not assert: requests sent
after PostgreSQL was back yet refused (psycopg_pool retries with pauses of 1, 2, 4, 8 s, so
the first ticket is often taken 4-6 s after the start), and 503s whose ticket was committed
nonetheless (the connection died between COMMIT and its answer; the 503 says "nothing was
changed").
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from benchmarks.common import Server, live_server
from widget_server.search import reindex
from widget_server.tickets import pg_schema

from .conftest import free_port, unavailable

PG_BIN = Path("/usr/lib/postgresql/15/bin")  # Debian's PostgreSQL 15
DOWN_SECONDS = 8.0  # longer than the store's 5 s wait for a connection, so 503s surface
LANES = 4
TICKET = {"name": "Ana", "email": "ana@example.com", "message": "The printer jams.",
          "elapsed_ms": 5000}


class Cluster:
    """A PostgreSQL cluster of the test's own in a temporary folder, on a loopback port."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").is_file() or not (PG_BIN / "pg_ctl").is_file():
            unavailable(f"PostgreSQL 15's initdb and pg_ctl are not installed in {PG_BIN}")
        self.user: str | None = None
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to postgres
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no postgres user to own a cluster")
            self.user = "postgres"
        self.root = Path(tempfile.mkdtemp(prefix="deskbell-pg-"))
        if self.user:
            shutil.chown(self.root, self.user)
        self.data = self.root / "data"
        self.port = 0
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")  # (fsync stays on in the server itself)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(PG_BIN / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}")
        return done

    def start(self) -> None:
        for attempt in range(3):  # a free port may be taken before PostgreSQL binds it
            port = self.port or free_port()
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                          "-t", "30", "-o", f"-p {port} -k {self.root} "
                          "-c listen_addresses=127.0.0.1", "start")
            except RuntimeError:
                if self.port or attempt == 2:
                    raise
                continue
            self.port = port
            return

    def stop(self, mode: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run((["runuser", "-u", self.user, "--"] if self.user else [])
                           + [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m",
                              "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    made = Cluster()
    try:
        made.start()
        with pg_schema.connect(made.url) as conn:  # as `deskbell db upgrade` would
            pg_schema.upgrade(conn)
        yield made
    finally:
        made.remove()


@dataclass
class Sent:
    subject: str
    sent_at: float
    answered_at: float = 0.0
    status: int | None = None  # None: no answer at all
    body: Any = None
    error: str = ""


class Visitors:
    """LANES visitors sending tickets one after another, each through its own connection,
    until stopped; every request and its answer is kept with its times."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent: list[Sent] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._lane, args=(n,)) for n in range(LANES)]

    def _lane(self, lane: int) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            for i in range(100_000):
                if self._stop.is_set():
                    return
                sent = Sent(f"outage {lane}.{i}", time.monotonic())
                self.sent.append(sent)
                try:
                    answer = client.post("/api/v1/tickets", json={**TICKET,
                                                                  "subject": sent.subject})
                    sent.status, sent.body = answer.status_code, answer.json()
                except (httpx.HTTPError, ValueError) as exc:
                    sent.error = f"{type(exc).__name__}: {exc}"
                sent.answered_at = time.monotonic()

    def __enter__(self) -> Visitors:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=90)

    def created_since(self, moment: float) -> int:
        return sum(s.status == 201 and s.sent_at >= moment for s in list(self.sent))

    def wait_for(self, count: int, since: float, seconds: float) -> float:
        """Until `count` tickets sent after `since` were created; the time that took."""
        deadline = time.monotonic() + seconds
        while self.created_since(since) < count:
            assert time.monotonic() < deadline, self.summary()
            time.sleep(0.05)
        return time.monotonic() - since

    def summary(self) -> str:
        return f"{len(self.sent)} sent, last: {[(s.status, s.error) for s in self.sent[-8:]]}"


@pytest.fixture
def node(cluster: Cluster, tmp_path: Path) -> Iterator[Server]:
    kb = Path(__file__).parent / "data" / "kb"
    reindex(kb, tmp_path / "data" / "index", semantic=False)
    with live_server({"kb_dir": kb, "data_dir": tmp_path / "data", "ticket_store": cluster.url,
                      "ticket_rate_limit": "1000000/minute", "semantic": "false"},
                     workers=2, cwd=tmp_path, timeout=90) as server:
        deadline = time.monotonic() + 60  # both workers up, each with its own pool
        while "".join(server.log).count("Application startup complete") < 2:
            assert time.monotonic() < deadline, "".join(server.log)
            time.sleep(0.05)
        yield server


def _outage(cluster: Cluster, node: Server, visitors: Visitors, mode: str,
            earlier: dict[str, str]) -> dict[str, float]:
    """Stop PostgreSQL (`mode`), check the node while it is down, start it again, wait until
    tickets are created again. Returns the moments it went down and came back."""
    visitors.wait_for(10, time.monotonic(), 30)  # tickets flow before the outage
    down = time.monotonic()
    cluster.stop(mode)
    with httpx.Client(base_url=node.url, timeout=30) as client:
        # Search does not need PostgreSQL: it answers throughout.
        found = client.get("/api/v1/search", params={"q": "password"})
        assert found.status_code == 200 and found.json()["results"]
        # Reading a ticket needs it: 503, naming PostgreSQL; /healthz tells a load balancer
        # (each waits for the store's 5 s connection timeout, so both at once).
        with ThreadPoolExecutor(2) as pool:
            reading = pool.submit(client.get, f"/api/v1/tickets/{earlier['reference']}",
                                  headers={"authorization": f"Bearer {earlier['token']}"})
            checking = pool.submit(client.get, "/healthz")
        read, health = reading.result(), checking.result()
        assert read.status_code == 503, read.text
        assert "PostgreSQL" in read.json()["error"]["message"]
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        assert health.json()["services"]["tickets"]["up"] is False
    time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down)))
    up = time.monotonic()
    cluster.start()  # the same port: the node's URL does not change
    # No restart of Deskbell: the pools reconnect. 40 tickets over 4 lanes pass both workers.
    recovered = visitors.wait_for(40, up, 45)
    return {"down": down, "up": up, "recovered": recovered}


def test_postgresql_stopped_and_started_again_during_traffic(cluster: Cluster,
                                                             node: Server) -> None:
    with httpx.Client(base_url=node.url, timeout=30) as client:
        first = client.post("/api/v1/tickets", json={**TICKET, "subject": "before"})
    assert first.status_code == 201, first.text
    earlier = first.json()
    pid = node.pid
    with Visitors(node.url) as visitors:
        outages = [_outage(cluster, node, visitors, mode, earlier)
                   for mode in ("fast", "immediate")]
    sent = visitors.sent

    # Every request got an answer: created, or 503 naming PostgreSQL; never a 500 or a reset.
    assert all(s.status in (201, 503) for s in sent), \
        [(s.subject, s.status, s.error, s.body) for s in sent if s.status not in (201, 503)]
    refused = [s for s in sent if s.status == 503]
    for s in refused:
        assert s.body["error"]["code"] == "storage_unavailable", s.body
        assert "PostgreSQL" in s.body["error"]["message"], s.body
    for outage in outages:  # 503s were answered while PostgreSQL was down, in each outage
        assert any(outage["down"] <= s.answered_at <= outage["up"] for s in refused), outage
    assert node.process.poll() is None and node.pid == pid  # the same node throughout
    assert "".join(node.log).count("Started server process") == 2  # no worker restarted

    # No acknowledged ticket lost, none stored twice.
    with psycopg.connect(cluster.url) as conn:
        rows = conn.execute("SELECT reference, document->>'subject' FROM tickets").fetchall()
    stored: dict[str, list[str]] = {}
    for reference, subject in rows:
        stored.setdefault(subject, []).append(reference)
    assert all(len(refs) == 1 for refs in stored.values())
    created = [s for s in sent if s.status == 201]
    for s in created:
        assert stored.get(s.subject) == [s.body["reference"]], s
    assert stored.get("before") == [earlier["reference"]]
    # A 503 says "nothing was changed": count answers where the commit landed nonetheless
    # (the connection died between COMMIT and its acknowledgement).
    landed = [s.subject for s in refused if s.subject in stored]
    print(f"{len(created)} created, {len(refused)} refused with 503 ({len(landed)} of them "
          f"stored nonetheless)")
    ends = [outage["down"] for outage in outages[1:]] + [float("inf")]
    for mode, outage, end in zip(("fast", "immediate"), outages, ends, strict=True):
        back = [s for s in sent if outage["up"] <= s.sent_at < end]
        took = min(s.answered_at for s in back if s.status == 201) - outage["up"]
        late = sum(s.status == 503 for s in back)
        print(f"stop -m {mode}: first ticket {took:.1f} s after the start, 40 after "
              f"{outage['recovered']:.1f} s; {late} sent after the start refused nonetheless")

    # The node serves the earlier ticket again, through either worker, and says it is healthy.
    with httpx.Client(base_url=node.url, timeout=30) as client:
        assert client.get("/healthz").json()["services"]["tickets"]["up"] is True
        for _ in range(4):
            again = client.get(f"/api/v1/tickets/{earlier['reference']}",
                               headers={"authorization": f"Bearer {earlier['token']}"})
            assert again.status_code == 200 and again.json()["subject"] == "before"
