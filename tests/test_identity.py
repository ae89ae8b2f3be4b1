"""Signed visitor identity: a visitor the site signed sees exactly their own tickets, on any
device; anything short of a valid signature reveals nothing and is answered as no identity."""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from widget_server import identity
from widget_server.app import create_app
from widget_server.tickets import TicketStore, model

from .test_tickets_api import URL, bearer, form, helpdesk, stored

SECRET = "s3cret-of-the-site-0123456789abcdef"
LIST = "/api/v1/identity/tickets"


def claim(email: str = "ana@example.com", user_id: str | None = None, *,
          signature: str | None = None, name: str = "Ana Lima") -> dict[str, Any]:
    subject = user_id if user_id is not None else email
    signed = {"email": email, "name": name,
              "signature": signature if signature is not None else identity.sign(SECRET, subject)}
    if user_id is not None:
        signed["user_id"] = user_id
    return signed


def header(signed: dict[str, Any]) -> dict[str, str]:
    text = json.dumps(signed).encode("utf-8")
    return {"Authorization": "Identity " + base64.urlsafe_b64encode(text).decode().rstrip("=")}


@pytest.fixture
def api(make_settings) -> Iterator[TestClient]:
    settings = make_settings(ticket_rate_limit="100/minute", identity_secret=SECRET)
    with TestClient(create_app(settings)) as client:
        yield client


def open_ticket(api: TestClient, **changes: Any) -> dict[str, Any]:
    response = api.post(URL, json=form(**changes))
    assert response.status_code == 201, response.text
    return response.json()


def listed(api: TestClient, signed: dict[str, Any]) -> dict[str, Any]:
    response = api.post(LIST, json={"identity": signed})
    assert response.status_code == 200, response.text
    return response.json()


# -- the signature


def test_the_signature_is_hex_hmac_sha256_of_user_id_or_email() -> None:
    expected = hmac.new(SECRET.encode(), b"ana@example.com", "sha256").hexdigest()
    assert identity.sign(SECRET, "ana@example.com") == expected
    assert identity.verify(SECRET, claim()) == identity.Identity("ana@example.com", None,
                                                                "Ana Lima")
    by_id = identity.verify(SECRET, claim(user_id="42"))
    assert by_id is not None and by_id.user_id == "42"


@pytest.mark.parametrize("bad", [
    claim(signature=identity.sign(SECRET, "ana@example.com")[:-2]),       # truncated
    claim(signature=identity.sign(SECRET, "ana@example.com").upper()),    # wrong case
    claim(signature=identity.sign("another-secret", "ana@example.com")),  # forged
    claim(email="bob@example.com", signature=identity.sign(SECRET, "ana@example.com")),  # replayed
    claim(user_id="43", signature=identity.sign(SECRET, "42")),           # another user's id
    claim(user_id="42", signature=identity.sign(SECRET, "ana@example.com")),  # email's for an id
    claim(signature=""),
    {"email": "ana@example.com"},                                         # unsigned
    {**claim(), "email": "not an address"},
    "ana@example.com",
])
def test_anything_short_of_a_valid_signature_is_no_identity(bad: Any) -> None:
    assert identity.verify(SECRET, bad) is None


def test_without_a_secret_nothing_verifies() -> None:
    assert identity.verify("", claim(signature=identity.sign("", "ana@example.com"))) is None


def test_every_signature_is_compared_in_constant_time(monkeypatch) -> None:
    """Whatever is wrong with a signature (length, case, value), the answer comes from one
    hmac.compare_digest of two full-length digests: no early exit tells how close a guess was."""
    seen: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(identity.hmac, "compare_digest", spy)
    good = identity.sign(SECRET, "ana@example.com")
    for signature in (good, good[:10], good.upper(), "f" * 64, "zz"):
        identity.verify(SECRET, claim(signature=signature))
    assert len(seen) == 5
    assert all(len(a) == len(b) == 64 and a == good for a, b in seen)


# -- what a signed visitor sees


def test_a_signed_visitor_sees_exactly_their_tickets_from_any_device(api: TestClient) -> None:
    first = open_ticket(api, subject="Invoice is wrong")
    second = open_ticket(api, email="ANA@Example.com", subject="Password reset")
    open_ticket(api, email="bob@example.com", subject="Bob's problem")
    answer = listed(api, claim())
    assert answer["verified"] is True
    assert [t["reference"] for t in answer["tickets"]] == [second["reference"],
                                                           first["reference"]]
    assert answer["tickets"][0] == {"reference": second["reference"],
                                    "subject": "Password reset", "status": "new",
                                    "created_at": second["created_at"],
                                    "updated_at": second["created_at"]}
    # No token needed: the signed identity opens, answers and shows the ticket.
    path = f"{URL}/{first['reference']}"
    assert api.get(path, headers=header(claim())).json()["subject"] == "Invoice is wrong"
    sent = api.post(f"{path}/messages", json={"body": "Any news?"}, headers=header(claim()))
    assert sent.status_code == 201
    thread = api.get(path, headers=bearer(first["token"])).json()["thread"]
    assert thread[-1]["body"] == "Any news?"


def test_a_signed_visitor_rates_a_solved_ticket(api: TestClient) -> None:
    opened = open_ticket(api)
    helpdesk(api).agent_reply(opened["reference"], "Fixed it.", status="solved")
    rated = api.post(f"{URL}/{opened['reference']}/rating", json={"csat": 5},
                     headers=header(claim()))
    assert rated.status_code == 201 and rated.json()["csat"] == 5


def test_a_user_id_owns_only_the_tickets_opened_signed_in_as_it(api: TestClient) -> None:
    before = open_ticket(api)  # same email, typed by anyone before signing in
    signed = open_ticket(api, identity=claim(user_id="42"))
    other = open_ticket(api, identity=claim(email="ana@example.com", user_id="43"))
    answer = listed(api, claim(user_id="42"))
    assert [t["reference"] for t in answer["tickets"]] == [signed["reference"]]
    for reference in (before["reference"], other["reference"]):
        refused = api.get(f"{URL}/{reference}", headers=header(claim(user_id="42")))
        assert refused.status_code == 404
    by_ref = {t["reference"]: t for t in stored(api)}
    assert by_ref[signed["reference"]]["user_id"] == "42"
    assert by_ref[signed["reference"]]["signed_by"] == "user_id"
    assert "user_id" not in by_ref[before["reference"]]


def test_an_email_signed_ticket_keeps_the_email_the_site_vouched_for(api: TestClient) -> None:
    opened = open_ticket(api, email="typo@example.con", identity=claim())
    [ticket] = stored(api)
    assert ticket["reference"] == opened["reference"]
    assert ticket["email"] == "ana@example.com" and ticket["signed_by"] == "email"


@pytest.mark.parametrize("forged", [
    claim(signature=identity.sign(SECRET, "ana@example.com")[:40]),
    claim(signature=identity.sign(SECRET, "ana@example.com").upper()),
    claim(email="bob@example.com", signature=identity.sign(SECRET, "ana@example.com")),
    {"email": "ana@example.com", "name": "Ana"},
])
def test_a_forged_identity_reveals_nothing(api: TestClient, forged: dict[str, Any]) -> None:
    opened = open_ticket(api)
    nobody = api.post(LIST, json={"identity": {}})
    answer = api.post(LIST, json={"identity": forged})
    assert answer.status_code == nobody.status_code == 200
    assert answer.json() == nobody.json() == {"verified": False, "tickets": []}
    path = f"{URL}/{opened['reference']}"
    wrong_token = api.get(path, headers=bearer("not-the-token"))
    by_forgery = api.get(path, headers=header(forged))
    assert by_forgery.status_code == wrong_token.status_code == 404
    assert by_forgery.json() == wrong_token.json()
    # A ticket opened with a forged identity is an ordinary unsigned ticket.
    open_ticket(api, email="bob@example.com", identity=forged)
    assert all("signed_by" not in t for t in stored(api))


@pytest.mark.parametrize("value", ["Identity", "Identity !!!", "Identity " + "A" * 5000,
                                   "Identity " + base64.urlsafe_b64encode(b"[1,2]").decode(),
                                   "Identity " + base64.urlsafe_b64encode(b"\xff\xfe").decode()])
def test_a_garbled_identity_header_is_a_plain_miss(api: TestClient, value: str) -> None:
    opened = open_ticket(api)
    response = api.get(f"{URL}/{opened['reference']}", headers={"Authorization": value})
    assert response.status_code in {401, 404}
    assert "reference" not in response.json()


def test_the_identity_body_is_validated(api: TestClient) -> None:
    missing = api.post(LIST, json={})
    assert missing.status_code == 422 and missing.json()["error"]["details"] == {
        "identity": "is required"}
    wrong = api.post(LIST, json={"identity": {"email": 7}})
    assert wrong.status_code == 422 and wrong.json()["error"]["details"] == {
        "identity.email": "must be a string"}
    extra = api.post(URL, json=form(identity={"password": "x"}))
    assert extra.status_code == 422 and "identity.password" in extra.json()["error"]["details"]


def test_failed_signatures_count_as_guesses(make_settings) -> None:
    settings = make_settings(identity_secret=SECRET)
    with TestClient(create_app(settings)) as api:
        codes = [api.post(LIST, json={"identity": claim(signature="0" * 64)}).status_code
                 for _ in range(40)]
        assert codes[0] == 200 and codes[-1] == 429
        # an unsigned identify (every page view of a site that only prefills) never counts
    with TestClient(create_app(make_settings(identity_secret=SECRET))) as api:
        codes = [api.post(LIST, json={"identity": {"email": "a@example.com"}}).status_code
                 for _ in range(40)]
        assert set(codes) == {200}


def test_identity_required_refuses_unsigned_visitors(make_settings) -> None:
    settings = make_settings(identity_secret=SECRET, identity_required=True,
                             ticket_rate_limit="100/minute")
    with TestClient(create_app(settings)) as api:
        refused = api.post(URL, json=form())
        assert refused.status_code == 403
        assert "sign in" in refused.json()["error"]["message"].lower()
        forged = api.post(URL, json=form(identity=claim(signature="0" * 64)))
        assert forged.status_code == 403
        assert stored(api) == []
        assert api.post(URL, json=form(identity=claim())).status_code == 201


def test_every_store_finds_a_visitors_tickets(ticket_store: TicketStore) -> None:
    def add(email: str, user_id: str | None = None, at: str = "") -> str:
        ticket, _ = model.new_ticket({"name": "A", "email": email, "subject": "S",
                                      "message": "M", "page_url": "", "locale": "en",
                                      "trail": {}})
        if user_id is not None:
            ticket["user_id"] = user_id
        ticket["created_at"] = at or ticket["created_at"]
        return ticket_store.add(ticket)["reference"]

    old = add("ana@example.com", at="2026-01-01T00:00:00+00:00")
    new = add("Ana@EXAMPLE.com", at="2026-02-01T00:00:00+00:00")
    by_id = add("other@example.com", "u-1", at="2026-03-01T00:00:00+00:00")
    add("bob@example.com")
    assert [r["reference"] for r in ticket_store.tickets_of("ana@example.com")] == [new, old]
    assert [r["reference"] for r in ticket_store.tickets_of("x@example.com", "u-1")] == [by_id]
    assert ticket_store.tickets_of("ana@example.com", "u-2") == []
    assert [r["reference"] for r in ticket_store.tickets_of("ana@example.com", limit=1)] == [new]
    assert ticket_store.tickets_of("nobody\x00@example.com") == []


def test_the_agent_sees_who_the_site_signed(make_settings) -> None:
    from .test_admin import PASSWORD, log_in

    settings = make_settings(identity_secret=SECRET, admin_password=PASSWORD,
                             ticket_rate_limit="100/minute")
    with TestClient(create_app(settings), follow_redirects=False) as api:
        log_in(api)
        by_id = open_ticket(api, identity=claim(user_id="<b>42</b>"))["reference"]
        by_email = open_ticket(api, identity=claim())["reference"]
        plain = open_ticket(api)["reference"]
        page = api.get(f"/admin/tickets/{by_id}").text
        assert "signed in on your site as user <bdi>&lt;b&gt;42&lt;/b&gt;</bdi>" in page
        assert "vouched for by your site" in api.get(f"/admin/tickets/{by_email}").text
        unsigned = api.get(f"/admin/tickets/{plain}").text
        assert "signed in on your site" not in unsigned and "vouched" not in unsigned
