"""/healthz: the search generation and each backing service (up, latency); 503 when the
ticket store cannot be reached, while search keeps serving."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.settings import Settings

from .test_postgres_store import Relay, relay, upgrade, via_port  # noqa: F401  (fixture)


def test_health_names_each_backing_service(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["index_generation"]
    assert body["services"]["tickets"]["kind"] == "json"
    assert body["services"]["tickets"]["up"] is True
    assert body["services"]["rate_limits"] == {**body["services"]["rate_limits"],
                                               "kind": "memory", "up": True}
    assert body["services"]["tickets"]["latency_ms"] >= 0
    assert body["services"]["events"]["kind"] == "json" and body["services"]["events"]["up"]


def test_postgresql_away_is_a_503_while_search_serves(
        postgres_url: str, relay: Relay, indexed: Settings,  # noqa: F811
        make_settings: Callable[..., Any]) -> None:
    upgrade(postgres_url)
    settings = make_settings(ticket_store=via_port(postgres_url, relay.port))
    with TestClient(create_app(settings)) as client:
        up = client.get("/healthz").json()
        assert up["services"]["tickets"] == {**up["services"]["tickets"],
                                             "kind": "postgresql", "up": True}
        assert "127.0.0.1" not in str(up)  # a kind, never the URL
        relay.stop()
        down = client.get("/healthz")
        assert down.status_code == 503
        assert down.json()["status"] == "degraded"
        assert down.json()["services"]["tickets"]["up"] is False
        assert client.get("/api/v1/search", params={"q": "password"}).status_code == 200
        relay.start()
        assert client.get("/healthz").status_code == 200


def test_an_event_store_away_is_degraded_but_serving(
        postgres_url: str, relay: Relay, indexed: Settings,  # noqa: F811
        make_settings: Callable[..., Any]) -> None:
    upgrade(postgres_url)
    settings = make_settings(event_store=via_port(postgres_url, relay.port))
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json()["services"]["events"]["up"] is True
        relay.stop()
        health = client.get("/healthz")
        assert health.status_code == 200  # tickets are fine: no visitor's request is lost
        assert health.json()["status"] == "degraded"
        assert health.json()["services"]["events"] == {**health.json()["services"]["events"],
                                                       "kind": "postgresql", "up": False}
        relay.start()
