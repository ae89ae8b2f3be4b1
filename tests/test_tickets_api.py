"""The visitor's tickets API: what a contact form and a "my requests" view can rely on."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from widget_server import durable
from widget_server.app import create_app
from widget_server.helpdesk import Helpdesk
from widget_server.tickets import CorruptStore, TicketStore

URL = "/api/v1/tickets"


def form(**changes: Any) -> dict[str, Any]:
    body = {"name": "Ana Lima", "email": "ana@example.com", "subject": "Cannot log in",
            "message": "The reset link says expired.", "elapsed_ms": 9000}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
def api(make_settings) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(ticket_rate_limit="100/minute"))) as client:
        yield client


def stored(client: TestClient) -> list[dict[str, Any]]:
    store: TicketStore = client.app.state.services.tickets  # type: ignore[attr-defined]
    return list(store.iter_tickets())


def helpdesk(client: TestClient) -> Helpdesk:
    state = client.app.state.services  # type: ignore[attr-defined]
    return state.helpdesk


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_visitor_opens_a_ticket_and_reads_it_back(api: TestClient) -> None:
    created = api.post(URL, json=form())
    assert created.status_code == 201
    answer = created.json()
    assert set(answer) == {"reference", "token", "status", "created_at"}
    assert answer["status"] == "new" and answer["reference"].startswith("DB-")
    shown = api.get(f"{URL}/{answer['reference']}", headers=bearer(answer["token"]))
    assert shown.status_code == 200
    view = shown.json()
    assert view["subject"] == "Cannot log in" and view["can_rate"] is False
    assert view["rating"] is None
    assert view["thread"][0] == {"author": "visitor", "author_name": "Ana Lima",
                                 "body": "The reset link says expired.",
                                 "at": answer["created_at"]}
    [ticket] = stored(api)
    assert answer["token"] not in json.dumps(ticket)


def test_wrong_token_and_unknown_reference_look_the_same(api: TestClient) -> None:
    answer = api.post(URL, json=form()).json()
    wrong = api.get(f"{URL}/{answer['reference']}", headers=bearer("x" * 43))
    unknown = api.get(f"{URL}/DB-AAAA-BBBB-CCCC", headers=bearer(answer["token"]))
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()
    assert api.get(f"{URL}/{answer['reference']}").status_code == 401


INVALID = [
    ({"name": ""}, "name", "is required"),
    ({"name": "x" * 101}, "name", "at most 100"),
    ({"name": "Ana\x00"}, "name", "control characters"),
    ({"name": 42}, "name", "must be a string"),
    ({"email": "ana"}, "email", "email address"),
    ({"email": "ana@localhost"}, "email", "email address"),
    ({"email": "a@b@example.com"}, "email", "email address"),
    ({"email": "ana @example.com"}, "email", "email address"),
    ({"email": "a" * 250 + "@example.com"}, "email", "at most 254"),
    ({"subject": ""}, "subject", "is required"),
    ({"subject": "x" * 201}, "subject", "at most 200"),
    ({"subject": "Hi\r\nBcc: x@example.com"}, "subject", "control characters"),
    ({"message": ""}, "message", "is required"),
    ({"message": "x" * 10001}, "message", "at most 10000"),
    ({"message": "bell\x07"}, "message", "control characters"),
    ({"page_url": "javascript:alert(1)"}, "page_url", "http(s) URL"),
    ({"locale": "not a locale"}, "locale", "language tag"),
    ({"priority": "urgent"}, "priority", "unknown field"),
    ({"trail": {"searches": [{"q": "x", "results": 1, "evil": 1}]}},
     "trail.searches[0].evil", "unknown field"),
    ({"trail": {"searches": [{"q": "x" * 501}]}}, "trail.searches[0].q", "at most 500"),
    ({"trail": {"articles": [{"slug": "a"}] * 51}}, "trail.articles", "at most 50"),
    ({"trail": {"session": "not-a-session"}}, "trail.session", "malformed"),
    ({"trail": {"votes": [{"slug": "a", "helpful": "yes"}]}}, "trail.votes[0].helpful",
     "true or false"),
]


@pytest.mark.parametrize(("change", "field", "problem"), INVALID)
def test_each_invalid_field_is_named(api: TestClient, change: dict, field: str,
                                     problem: str) -> None:
    response = api.post(URL, json=form(**change))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert field in error["details"] and problem in error["details"][field]
    assert stored(api) == []


def test_lone_surrogates_are_rejected(api: TestClient) -> None:
    raw = json.dumps(form()).replace("Ana Lima", "Ana \\ud800")
    response = api.post(URL, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "invalid character" in response.json()["error"]["details"]["name"]


def test_text_is_nfc_normalized_and_email_domain_lowercased(api: TestClient) -> None:
    api.post(URL, json=form(name="Jose\u0301", email="Ana@Example.COM"))
    [ticket] = stored(api)
    assert ticket["name"] == "Jos\u00e9" and ticket["email"] == "Ana@example.com"


def test_body_shape_errors(api: TestClient, make_settings) -> None:
    assert api.post(URL, content=b"name=x", headers={
        "content-type": "application/x-www-form-urlencoded"}).status_code == 415
    assert api.post(URL, content=b'{"name": ', headers={
        "content-type": "application/json"}).status_code == 400
    huge = form(message="x" * 70000)
    assert api.post(URL, json=huge).status_code == 413
    assert stored(api) == []


def test_form_submitted_too_fast(api: TestClient) -> None:
    response = api.post(URL, json=form(elapsed_ms=300))
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "form submitted too fast"


def test_honeypot_pretends_success_and_stores_nothing(api: TestClient) -> None:
    response = api.post(URL, json=form(website="http://spam.example"))
    assert response.status_code == 201 and response.json()["reference"].startswith("DB-")
    assert stored(api) == []
    fake = response.json()
    assert api.get(f"{URL}/{fake['reference']}", headers=bearer(fake["token"])).status_code == 404


def test_creation_is_rate_limited_per_ip(make_settings) -> None:
    with TestClient(create_app(make_settings(ticket_rate_limit="3/minute"))) as client:
        codes = [client.post(URL, json=form()).status_code for _ in range(4)]
        assert codes == [201, 201, 201, 429]
        refused = client.post(URL, json=form())
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["error"]["code"] == "rate_limited"
        assert len(stored(client)) == 3


def test_foreign_origins_are_refused(make_settings) -> None:
    settings = make_settings(allowed_origins="https://shop.example.com")
    with TestClient(create_app(settings)) as client:
        evil = client.post(URL, json=form(), headers={"origin": "https://evil.example"})
        assert evil.status_code == 403
        assert client.post(URL, json=form(),
                           headers={"origin": "https://shop.example.com"}).status_code == 201
        assert client.post(URL, json=form(),
                           headers={"origin": "http://testserver"}).status_code == 201
        assert len(stored(client)) == 2


def test_visitor_messages_and_hidden_notes(api: TestClient) -> None:
    answer = api.post(URL, json=form()).json()
    ref, auth = answer["reference"], bearer(answer["token"])
    helpdesk(api).add_note(ref, "VIP customer, be nice")
    helpdesk(api).agent_reply(ref, "Try the new link")
    posted = api.post(f"{URL}/{ref}/messages", json={"body": "Still broken"}, headers=auth)
    assert posted.status_code == 201 and posted.json()["author"] == "visitor"
    view = api.get(f"{URL}/{ref}", headers=auth).json()
    assert [e["author"] for e in view["thread"]] == ["visitor", "agent", "visitor"]
    assert "VIP" not in json.dumps(view)
    assert view["status"] == "open"
    bad = api.post(f"{URL}/{ref}/messages", json={"body": "x", "cc": "y"}, headers=auth)
    assert bad.status_code == 422 and "cc" in bad.json()["error"]["details"]


def test_rating_only_once_per_resolution(api: TestClient) -> None:
    answer = api.post(URL, json=form()).json()
    ref, auth = answer["reference"], bearer(answer["token"])
    assert api.post(f"{URL}/{ref}/rating", json={"csat": 5}, headers=auth).status_code == 409
    helpdesk(api).set_status(ref, "solved")
    assert api.get(f"{URL}/{ref}", headers=auth).json()["can_rate"] is True
    assert api.post(f"{URL}/{ref}/rating", json={"csat": 6}, headers=auth).status_code == 422
    assert api.post(f"{URL}/{ref}/rating", json={"csat": 4, "ces": 8},
                    headers=auth).status_code == 422
    assert api.post(f"{URL}/{ref}/rating", json={"csat": 4, "nps": 11},
                    headers=auth).status_code == 422
    rated = api.post(f"{URL}/{ref}/rating", json={"csat": 4, "ces": 2, "nps": 9}, headers=auth)
    assert rated.status_code == 201
    assert api.post(f"{URL}/{ref}/rating", json={"csat": 5}, headers=auth).status_code == 409
    view = api.get(f"{URL}/{ref}", headers=auth).json()
    assert view["can_rate"] is False and view["rating"]["csat"] == 4
    assert view["rating"]["nps"] == 9


def test_category_comes_from_the_last_article_opened(client: TestClient) -> None:
    trail = {"session": "s_" + "a" * 22, "articles": [
        {"slug": "account/reset-password", "title": "Reset", "source": "search",
         "at": "2026-11-23T10:00:00+00:00"}]}
    assert client.post(URL, json=form(trail=trail)).status_code == 201
    [ticket] = stored(client)
    assert ticket["category"] == "Account"
    assert ticket["trail"]["articles"][0]["slug"] == "account/reset-password"


def test_a_full_disk_answers_507_and_keeps_what_was_stored(api: TestClient,
                                                           monkeypatch) -> None:
    assert api.post(URL, json=form(subject="First")).status_code == 201

    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(durable.os, "write", full)
    response = api.post(URL, json=form(subject="Second"))
    monkeypatch.undo()
    assert response.status_code == 507
    assert response.json()["error"]["code"] == "insufficient_storage"
    assert "/" not in response.json()["error"]["message"]  # no server paths to visitors
    assert [t["subject"] for t in stored(api)] == ["First"]


def test_the_server_refuses_to_start_on_a_corrupt_store(make_settings, tmp_path: Path) -> None:
    settings = make_settings()
    with TestClient(create_app(settings)) as client:
        assert client.post(URL, json=form()).status_code == 201
    for damaged in (Path(settings.data_dir) / "tickets").rglob("*.json"):
        damaged.write_text("{not json")
    with pytest.raises(CorruptStore, match=r"\.json is corrupt"):
        create_app(settings)
    assert damaged.read_text() == "{not json"


def test_tickets_kept_in_memory_work_the_same_and_touch_no_disk(make_settings) -> None:
    settings = make_settings(ticket_store="memory", ticket_rate_limit="100/minute")
    with TestClient(create_app(settings)) as client:
        answer = client.post(URL, json=form()).json()
        auth = bearer(answer["token"])
        assert client.post(f"{URL}/{answer['reference']}/messages", json={"body": "More"},
                           headers=auth).status_code == 201
        view = client.get(f"{URL}/{answer['reference']}", headers=auth).json()
        assert [e["body"] for e in view["thread"]] == ["The reset link says expired.", "More"]
    assert not (Path(settings.data_dir) / "tickets").exists()


def test_a_new_ticket_is_tied_to_its_help_session(api: TestClient) -> None:
    events = api.app.state.services.events  # type: ignore[attr-defined]
    session = "s_" + "Q" * 22
    reference = api.post(URL, json=form(trail={"session": session})).json()["reference"]
    [event] = [e for e in events.iter_events(None, None) if e["type"] == "ticket_created"]
    assert event["session"] == session and event["data"]["reference"] == reference
