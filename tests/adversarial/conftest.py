"""Shared tools for the adversarial suite: a real uvicorn on loopback, admin login, a valid
ticket body. Every loop here is bounded in count; no test depends on how fast the machine is."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from benchmarks.common import Server, live_server
from widget_server.search import reindex
from widget_server.settings import Settings

from ..test_admin import PASSWORD, csrf_of, log_in

GOOD_TICKET: dict[str, Any] = {"name": "Ada", "email": "ada@example.com", "subject": "Help",
                               "message": "It broke.", "elapsed_ms": 5000}
OPEN_LIMITS = {"api_rate_limit": "100000/minute", "ticket_rate_limit": "100000/minute",
               "events_rate_limit": "100000/minute"}

__all__ = ["GOOD_TICKET", "OPEN_LIMITS", "PASSWORD", "Server", "csrf_of", "log_in"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def live(request: pytest.FixtureRequest,
         make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Server]]:
    """Start real uvicorn processes serving `uvicorn --factory widget_server.app:app_from_env`
    over this test's settings, through the suite's one launcher (benchmarks.common.
    live_server); every one is stopped at teardown. Not `deskbell serve`, which would build a
    missing index before serving: the fault tests need the server to meet it missing. When
    the test fails, the servers' last lines of output are printed with its report."""
    servers: list[Server] = []
    with ExitStack() as started:

        def start(workers: int = 1, index: bool = True, **overrides: str) -> Server:
            s = make_settings(**{**OPEN_LIMITS, **overrides})
            if index:
                reindex(Path(s.kb_dir), s.index_dir)
            values = {"kb_dir": str(s.kb_dir), "data_dir": str(s.data_dir),
                      **OPEN_LIMITS, **overrides}
            server = started.enter_context(live_server(values, workers=workers,
                                                       app="widget_server.app:app_from_env"))
            servers.append(server)
            return server

        yield start
        if request.node.stash.get(FAILED, False):
            for server in servers:
                print(f"--- the server on port {server.port} said:\n" + "".join(server.log))


@pytest.fixture
def open_client(app_client: Callable[..., TestClient]) -> TestClient:
    return app_client(**OPEN_LIMITS)

