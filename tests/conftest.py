"""Shared fixtures: a copy of the fixture knowledge base, settings over tmp_path, an indexed app."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.testclient import TestClient

from benchmarks.common import POSTGRES, ServiceMissing, postgres_schema, redis_database
from widget_server.app import create_app
from widget_server.search import reindex
from widget_server.settings import Settings, load_settings
from widget_server.tickets import TicketStore, open_ticket_store

DATA = Path(__file__).parent / "data"
FIXTURE_KB = DATA / "kb"
REPO = Path(__file__).parent.parent


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    """A private, writable copy of tests/data/kb."""
    target = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, target)
    return target


@pytest.fixture
def make_settings(tmp_path: Path, kb_dir: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values = {"kb_dir": str(kb_dir), "data_dir": str(tmp_path / "data"), **overrides}
        return load_settings(overrides=values, config_file=None, environ={})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def indexed(settings: Settings) -> Settings:
    reindex(Path(settings.kb_dir), settings.index_dir)
    return settings


@pytest.fixture
def client(indexed: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(indexed)) as test_client:
        yield test_client


@pytest.fixture
def app_client(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """An indexed in-process app over overridden settings, with the admin password of
    test_admin (closed at teardown)."""
    from .test_admin import PASSWORD

    opened: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        s = make_settings(**{"admin_password": PASSWORD, **overrides})
        reindex(Path(s.kb_dir), s.index_dir)
        client = TestClient(create_app(s), follow_redirects=False)
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


# Every TicketStore kind; a store test that takes `ticket_store` runs once against each.
TICKET_STORES = ("memory", "json", "postgresql")
# The real PostgreSQL every machine of this project runs (trust authentication, database test).
POSTGRES_TEST_DB = POSTGRES


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose search_path selects a fresh, empty schema of POSTGRES_TEST_DB (a random
    name per test), dropped with everything in it afterwards."""
    try:
        with postgres_schema(POSTGRES_TEST_DB) as url:
            yield url
    except ServiceMissing as exc:
        unavailable(str(exc))


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database of its own on the machine's Redis (127.0.0.1:6379), emptied after."""
    try:
        with redis_database() as url:
            yield url
    except ServiceMissing as exc:
        unavailable(str(exc))


@pytest.fixture(params=TICKET_STORES)
def ticket_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TicketStore]:
    """An empty store of each kind, opened through the `ticket_store` setting (PostgreSQL's in
    its own schema, upgraded first as `deskbell db upgrade` would), closed afterwards."""
    kind = request.param
    if kind == "postgresql":
        from widget_server.tickets import pg_schema

        kind = request.getfixturevalue("postgres_url")
        with pg_schema.connect(kind) as conn:
            pg_schema.upgrade(conn)
    settings = load_settings(overrides={"data_dir": str(tmp_path / "store"),
                                        "ticket_store": kind},
                             config_file=None, environ={})
    store = open_ticket_store(settings)
    yield store
    if hasattr(store, "close"):
        store.close()


IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(message: str) -> None:
    """A test's real dependency is missing: a failure in CI, a skip on a developer's machine."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def tmpfs(mount_point: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of `size`, so ENOSPC and EROFS come from the kernel, not from a stub."""
    mount_point.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                           str(mount_point)], capture_output=True, text=True)
    if made.returncode != 0:
        unavailable(f"cannot mount a tmpfs here (needs root): {made.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def free_port() -> int:
    """A loopback port free right now, for servers that cannot report the port they bound
    (php -S, an SMTP controller) or for a port where nothing must listen. Another process may
    take it before it is used: uvicorn servers bind port 0 instead (`served` in this process,
    `benchmarks.common.live_server` for `deskbell serve` as a subprocess)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bound_port(server: uvicorn.Server) -> int:
    """The port a started uvicorn server bound (given port 0, the kernel chose it)."""
    return int(server.servers[0].sockets[0].getsockname()[1])


@contextmanager
def served(app: Starlette) -> Iterator[str]:
    """Serve `app` through real uvicorn on a loopback port in a thread; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0,
                                           log_level="warning", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the Deskbell test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{bound_port(server)}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One real Chromium for the whole run (Playwright's sync API allows one driver at a time)."""
    path = chromium_path()
    if path is None:
        unavailable("Chromium is not installed (the 'chromium' package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()
