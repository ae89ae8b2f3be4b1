"""Rate limits shared through a real Redis: one count across nodes, and what happens when
Redis goes away (rate_limit_when_down = local or closed)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from tests.conftest import free_port, unavailable
from widget_server.app import create_app
from widget_server.settings import Settings, SettingsError

TICKET = {"name": "Ana", "email": "ana@example.com", "subject": "Printer", "message": "It jams."}


@contextmanager
def private_redis() -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A redis-server of the test's own, which the test may stop and start again."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed")
    port = free_port()
    process: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        process.append(subprocess.Popen([binary, "--port", str(port), "--save", "",
                                         "--appendonly", "no"], stdout=subprocess.DEVNULL))
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop() -> None:
        process[-1].kill()
        process[-1].wait()

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", stop, start
    finally:
        if process[-1].poll() is None:
            stop()


def _open(make_settings: Callable[..., Settings], **overrides: Any) -> TestClient:
    return TestClient(create_app(make_settings(**overrides)))


def test_one_limit_holds_across_two_nodes(make_settings: Callable[..., Settings],
                                          redis_url: str, tmp_path: Any) -> None:
    node_a = _open(make_settings, rate_limit_storage=redis_url, ticket_rate_limit="3/minute")
    node_b = _open(make_settings, rate_limit_storage=redis_url, ticket_rate_limit="3/minute",
                   data_dir=str(tmp_path / "node-b"))
    with node_a, node_b:
        answers = [node.post("/api/v1/tickets", json=TICKET).status_code
                   for node in (node_a, node_b, node_a, node_b, node_a)]
    assert answers == [201, 201, 201, 429, 429]


def test_per_process_memory_limits_do_not_add_up_across_nodes(
        make_settings: Callable[..., Settings], tmp_path: Any) -> None:
    # The contrast that makes the test above mean something: without Redis each node counts
    # on its own, so two nodes allow twice the rate.
    node_a = _open(make_settings, ticket_rate_limit="3/minute")
    node_b = _open(make_settings, ticket_rate_limit="3/minute", data_dir=str(tmp_path / "b"))
    with node_a, node_b:
        answers = [node.post("/api/v1/tickets", json=TICKET).status_code
                   for node in (node_a, node_b, node_a, node_b, node_a)]
    assert answers == [201, 201, 201, 201, 201]


def test_an_unreachable_redis_stops_the_start_with_one_line(
        make_settings: Callable[..., Settings]) -> None:
    port = free_port()  # nothing listens here
    with pytest.raises(SettingsError) as raised:
        create_app(make_settings(rate_limit_storage=f"redis://127.0.0.1:{port}/0"))
    assert str(raised.value) == (f"setting rate_limit_storage: cannot reach Redis at "
                                 f"127.0.0.1:{port}")


def test_a_bad_redis_url_is_refused_by_the_setting(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(SettingsError) as raised:
        make_settings(rate_limit_storage="http://127.0.0.1:6379")
    assert "rate_limit_storage" in str(raised.value) and "redis://" in str(raised.value)


def test_when_redis_goes_away_limits_count_locally_and_come_back(
        make_settings: Callable[..., Settings], indexed: Settings) -> None:
    with private_redis() as (url, stop, start):
        with _open(make_settings, rate_limit_storage=url, ticket_rate_limit="2/minute") as node:
            assert node.post("/api/v1/tickets", json=TICKET).status_code == 201
            stop()
            # Search and tickets keep serving; this process counts on its own meanwhile.
            assert node.get("/api/v1/search", params={"q": "password"}).status_code == 200
            health = node.get("/healthz")
            assert health.status_code == 200  # limits counted locally: nothing is refused
            assert health.json()["services"]["rate_limits"]["up"] is False
            assert health.json()["services"]["rate_limits"]["kind"] == "redis"
            down = [node.post("/api/v1/tickets", json=TICKET).status_code for _ in range(3)]
            assert down == [201, 201, 429]
            start()  # an empty Redis: the shared count starts again
            back = [node.post("/api/v1/tickets", json=TICKET).status_code for _ in range(3)]
            assert back == [201, 201, 429]


def test_fail_closed_refuses_limited_requests_while_redis_is_away(
        make_settings: Callable[..., Settings]) -> None:
    with private_redis() as (url, stop, start):
        with _open(make_settings, rate_limit_storage=url,
                   rate_limit_when_down="closed") as node:
            stop()
            refused = node.post("/api/v1/tickets", json=TICKET)
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "rate_limits_unavailable"
            assert node.app.state.services.tickets.count() == 0  # type: ignore[attr-defined]
            start()
            assert node.post("/api/v1/tickets", json=TICKET).status_code == 201


def test_a_shared_node_with_an_admin_needs_an_explicit_secret_key(
        make_settings: Callable[..., Settings], redis_url: str) -> None:
    with pytest.raises(SettingsError) as refused:
        create_app(make_settings(rate_limit_storage=redis_url, admin_password="pw"))
    assert str(refused.value).startswith("setting secret_key: set the same secret_key")
    create_app(make_settings(rate_limit_storage=redis_url, admin_password="pw",
                             secret_key="shared-by-every-node")).state.services.close()
