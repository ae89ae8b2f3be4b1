"""Shared tools for the adversarial suite: a real uvicorn on loopback, admin login, a valid
ticket body. Every loop here is bounded in count; no test depends on how fast the machine is."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.search import reindex
from widget_server.settings import Settings

from ..test_admin import PASSWORD, csrf_of, log_in

REPO = Path(__file__).resolve().parents[2]
GOOD_TICKET: dict[str, Any] = {"name": "Ada", "email": "ada@example.com", "subject": "Help",
                               "message": "It broke.", "elapsed_ms": 5000}
OPEN_LIMITS = {"api_rate_limit": "100000/minute", "ticket_rate_limit": "100000/minute",
               "events_rate_limit": "100000/minute"}

__all__ = ["GOOD_TICKET", "OPEN_LIMITS", "PASSWORD", "LiveServer", "csrf_of", "log_in"]


class LiveServer:
    """`uvicorn --factory widget_server.app:app_from_env` in its own process, on loopback.

    It binds port 0 and reports the port the kernel gave it, so no other process can take
    the port between choosing and binding it."""

    def __init__(self, settings: dict[str, str], workers: int = 1,
                 extra_args: list[str] | None = None) -> None:
        self.port = 0
        self.url = ""
        env = {**os.environ, **{f"DESKBELL_{k.upper()}": v for k, v in settings.items()}}
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "widget_server.app:app_from_env",
               "--host", "127.0.0.1", "--port", "0", "--workers", str(workers),
               "--log-level", "info", "--no-access-log", *(extra_args or [])]
        self.proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True, text=True)
        self.log: list[str] = []
        self.reported: queue.Queue[int] = queue.Queue()
        # Drained all along, so a chatty server never blocks on a full pipe.
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)
            found = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", line)
            if found:
                self.reported.put(int(found.group(1)))

    def wait_ready(self, attempts: int = 300) -> None:
        for _ in range(attempts):
            if self.proc.poll() is not None:
                time.sleep(0.1)  # let the reader take the last lines
                raise RuntimeError("".join(self.log))
            if not self.port:
                try:
                    self.port = self.reported.get(timeout=0.05)
                except queue.Empty:
                    continue
                self.url = f"http://127.0.0.1:{self.port}"
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not start:\n" + "".join(self.log))

    def kill(self) -> None:
        # The whole process group: uvicorn's supervisor and its workers, by our own pid.
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def live(make_settings: Callable[..., Settings]) -> Callable[..., LiveServer]:
    """Start real servers over this test's settings; every one is killed at teardown."""
    started: list[LiveServer] = []

    def start(workers: int = 1, index: bool = True, extra_args: list[str] | None = None,
              **overrides: str) -> LiveServer:
        s = make_settings(**{**OPEN_LIMITS, **overrides})
        if index:
            reindex(Path(s.kb_dir), s.index_dir)
        values = {"kb_dir": str(s.kb_dir), "data_dir": str(s.data_dir),
                  **OPEN_LIMITS, **overrides}
        server = LiveServer(values, workers, extra_args)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def app_client(make_settings: Callable[..., Settings]) -> Callable[..., TestClient]:
    """An indexed in-process app over overridden settings (closed at teardown)."""
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


@pytest.fixture
def open_client(app_client: Callable[..., TestClient]) -> TestClient:
    return app_client(**OPEN_LIMITS)

