"""Why an article did not help: the feedback API's `reason`, the vote event, and insights.

A vote stores data.reason (a code of VOTE_REASONS, or "") and data.comment (the visitor's words).
Votes stored before reasons existed hold the words in data.reason; readers take both shapes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from widget_server.events.registry import EVENT_TYPES, VOTE_REASONS, vote_reason
from widget_server.insights import Activity
from widget_server.insights.gaps import article_gaps
from widget_server.insights.metrics import Count
from widget_server.insights.report import to_jsonable
from widget_server.schemas import FEEDBACK

URL = "/api/v1/articles/billing/refunds/feedback"
SESSION = "s_" + "A" * 22
NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)


def votes(client: TestClient) -> list[dict[str, Any]]:
    return [e for e in client.app.state.services.events.iter_events()  # type: ignore[attr-defined]
            if e["type"] == "vote"]


@pytest.mark.parametrize("reason", VOTE_REASONS)
def test_each_reason_is_accepted_and_stored_in_the_vote(client: TestClient, reason: str) -> None:
    response = client.post(URL, json={"helpful": False, "reason": reason, "session": SESSION})
    assert response.status_code == 202
    [event] = votes(client)
    assert event["session"] == SESSION
    assert event["data"] == {"slug": "billing/refunds", "helpful": False, "reason": reason,
                             "comment": ""}


def test_other_carries_the_comment_apart_from_the_code(client: TestClient) -> None:
    body = {"helpful": False, "reason": "other", "comment": "  The screenshots show v1  "}
    assert client.post(URL, json=body).status_code == 202
    [event] = votes(client)
    assert event["data"]["reason"] == "other"
    assert event["data"]["comment"] == "The screenshots show v1"


def test_a_vote_without_a_reason_stores_an_empty_one(client: TestClient) -> None:
    assert client.post(URL, json={"helpful": True}).status_code == 202
    [event] = votes(client)
    assert event["data"] == {"slug": "billing/refunds", "helpful": True, "reason": "",
                             "comment": ""}


@pytest.mark.parametrize("reason", ["stale", "", "OUTDATED", 3, ["wrong"], True])
def test_any_other_reason_is_a_422_naming_the_field(client: TestClient, reason: Any) -> None:
    response = client.post(URL, json={"helpful": False, "reason": reason})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"] == {"reason": "must be one of " + ", ".join(VOTE_REASONS)}
    assert "reason" in error["message"]
    assert votes(client) == []


def test_the_comment_keeps_its_limit(client: TestClient) -> None:
    response = client.post(URL, json={"helpful": False, "reason": "other", "comment": "x" * 1001})
    assert response.status_code == 422 and set(response.json()["error"]["details"]) == {"comment"}


def test_the_spec_declares_the_reason_enum(client: TestClient) -> None:
    assert FEEDBACK.schema()["properties"]["reason"] == {"type": "string",
                                                         "enum": list(VOTE_REASONS)}
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/articles/{slug}/feedback"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["reason"]["enum"] == list(VOTE_REASONS)
    assert "reason" not in schema.get("required", [])


def test_the_registry_declares_reason_and_comment() -> None:
    vote = EVENT_TYPES["vote"]
    assert {"reason", "comment"} <= vote.field_names
    [reason] = [f for f in vote.fields if f.name == "reason"]
    assert reason.schema == {"enum": ["", *VOTE_REASONS]}


@pytest.mark.parametrize(("data", "expected"), [
    ({"reason": "outdated", "comment": ""}, ("outdated", "")),
    ({"reason": "other", "comment": "typo in step 2"}, ("other", "typo in step 2")),
    ({"reason": "The screenshots are old"}, ("", "The screenshots are old")),  # old shape
    ({"reason": ""}, ("", "")),
    ({}, ("", "")),
])
def test_vote_reason_reads_old_and_new_events(data: dict[str, Any],
                                               expected: tuple[str, str]) -> None:
    assert vote_reason(data) == expected


def _vote(n: int, slug: str, helpful: bool, minutes: int = 0, **data: Any) -> dict[str, Any]:
    return {"type": "vote", "session": f"s_{n:022d}",
            "at": (NOW - timedelta(hours=3) + timedelta(minutes=minutes)).isoformat(),
            "data": {"slug": slug, "helpful": helpful, **data}}


def test_insights_count_the_reasons_of_old_and_new_votes() -> None:
    events = [
        # new shape: a code in reason, words in comment
        _vote(1, "setup", False, reason="outdated", comment=""),
        _vote(2, "setup", False, reason="outdated", comment=""),
        _vote(3, "setup", False, reason="unclear", comment=""),
        _vote(4, "setup", False, reason="outdated", comment=""),
        _vote(5, "setup", False, reason="other", comment="Step 3 is missing"),
        _vote(6, "setup", False, reason="", comment=""),  # no reason given
        _vote(7, "setup", True, reason="", comment=""),
        # old shape: the visitor's words in reason, no comment key
        _vote(8, "setup", False, reason="The menu moved"),
        _vote(9, "billing", False, reason="wrong price"),
        _vote(10, "billing", False, reason="wrong", comment=""),
        _vote(11, "billing", False, reason="wrong", comment=""),
        _vote(12, "billing", True, reason=""),
    ]
    rows = {r.slug: r for r in article_gaps(Activity.build([], events))}
    setup, billing = rows["setup"], rows["billing"]
    assert (setup.not_helpful, setup.votes) == (7, 8)
    assert setup.reason_counts == (Count("outdated", 3), Count("other", 1),
                                   Count("unclear", 1))
    assert setup.reason_summary == "outdated 3, other 1, unclear 1"
    assert list(setup.reasons) == ["Step 3 is missing", "The menu moved"]
    assert billing.reason_counts == (Count("wrong", 2),)
    assert list(billing.reasons) == ["wrong price"]

    row = to_jsonable(setup)
    assert row["reason_counts"] == {"outdated": 3, "other": 1, "unclear": 1}
    assert list(row["reason_counts"]) == ["outdated", "other", "unclear"]  # most given first
    assert {"slug", "helpful", "not_helpful", "then_ticket", "references", "reasons", "votes",
            "helpful_ratio", "action"} <= set(row)


def test_an_article_with_only_old_votes_has_no_reason_counts() -> None:
    events = [_vote(n, "old", False, reason="too long") for n in range(1, 4)]
    [row] = article_gaps(Activity.build([], events))
    assert row.reason_counts == () and row.reason_summary == ""
    assert list(row.reasons) == ["too long"]
    assert to_jsonable(row)["reason_counts"] == {}
