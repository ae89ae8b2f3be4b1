"""Request bodies declared once (widget_server/schemas.py): one 422 names every wrong field,
and the OpenAPI spec says what the server actually accepts."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

GOOD = {"name": "Ana", "email": "ana@example.com", "subject": "Printer", "message": "It jams."}


def test_one_answer_names_every_wrong_field(client: TestClient) -> None:
    body = {**GOOD, "email": "not-an-address", "subject": "   ", "colour": "red",
            "trail": {"searches": "many"}}
    answer = client.post("/api/v1/tickets", json=body)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["details"] == {"colour": "unknown field", "email": "must be an email address",
                                "subject": "is required", "trail.searches": "must be a list"}
    assert error["message"] == "colour: unknown field"
    assert client.app.state.services.tickets.count() == 0  # type: ignore[attr-defined]


def test_a_rating_reports_each_bad_score(client: TestClient) -> None:
    reference, token = _ticket(client)
    answer = client.post(f"/api/v1/tickets/{reference}/rating",
                         json={"csat": 9, "ces": 0, "nps": 11},
                         headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"] == {
        "csat": "must be a whole number from 1 to 5", "ces": "must be a whole number from 1 to 7",
        "nps": "must be a whole number from 0 to 10"}


def _ticket(client: TestClient) -> tuple[str, str]:
    made = client.post("/api/v1/tickets", json=GOOD).json()
    return made["reference"], made["token"]


def _body_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["paths"][path]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    return schema


def test_the_spec_refuses_what_the_server_refuses(client: TestClient) -> None:
    # The hand-kept spec once allowed control characters in a feedback comment that the
    # server refused; the generated one carries the server's own rule.
    spec = client.get("/openapi.json").json()
    comment = _body_schema(spec, "/api/v1/articles/{slug}/feedback")["properties"]["comment"]
    assert "pattern" in comment and comment["maxLength"] == 1000
    slug = client.get("/api/v1/search", params={"q": "password"}).json()["results"][0]["slug"]
    refused = client.post(f"/api/v1/articles/{slug}/feedback",
                          json={"helpful": False, "comment": "bad\u0007bell"})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"] == {
        "comment": "must not contain control characters"}
    required = _body_schema(spec, "/api/v1/tickets")["required"]
    assert sorted(required) == ["email", "message", "name", "subject"]
