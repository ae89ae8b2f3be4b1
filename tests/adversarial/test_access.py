"""Who may do what: cross-site writes refused, admin forms need CSRF, no open redirects, no
forged Host in links, and ticket references that cannot be found by guessing."""

from __future__ import annotations

import json
import secrets
import socket
from urllib.parse import quote

import httpx
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from .conftest import GOOD_TICKET, OPEN_LIMITS, csrf_of, log_in

ALLOWED = "https://a.example"
HOSTILE_ORIGINS = ["https://a.example.evil.com", "http://a.example", "https://a.example:8443",
                   "https://a.example.", "null", "https://b.example", "https://evil.com",
                   "https://xa.example", "HTTPS://A.EXAMPLE.EVIL.COM"]
WRITES = [("/api/v1/tickets", GOOD_TICKET),
          ("/api/v1/events", {"session": "s_" + "a" * 22, "events": [{"type": "contact_open"}]}),
          ("/api/v1/articles/account/reset-password/feedback", {"helpful": True}),
          ("/api/v1/tickets/DB-0000-0000-0000/messages", {"body": "hi"}),
          ("/api/v1/tickets/DB-0000-0000-0000/rating", {"csat": 5}),
          ("/api/v1/identity/tickets", {"identity": {"email": "a@example.com"}})]


@pytest.mark.parametrize("origin", HOSTILE_ORIGINS)
@pytest.mark.parametrize(("path", "body"), WRITES)
@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_foreign_origins_are_refused_on_every_write(app_client, origin: str, path: str,
                                                    body: dict, content_type: str) -> None:
    client: TestClient = app_client(allowed_origins=ALLOWED, **OPEN_LIMITS)
    response = client.post(path, content=json.dumps(body).encode(),
                           headers={"origin": origin, "content-type": content_type,
                                    "authorization": "Bearer x"})
    assert response.status_code == 403, (origin, path, response.text)
    assert client.app.state.services.tickets.count() == 0  # type: ignore[attr-defined]


def test_the_allowed_origin_may_write(app_client) -> None:
    client: TestClient = app_client(allowed_origins=ALLOWED, **OPEN_LIMITS)
    response = client.post("/api/v1/tickets", json=GOOD_TICKET, headers={"origin": ALLOWED})
    assert response.status_code == 201


def test_every_admin_route_is_behind_login(app_client) -> None:
    client: TestClient = app_client()
    routes = [(r.path, m) for r in client.app.routes if isinstance(r, Route)
              and r.path.startswith("/admin") for m in (r.methods or set()) - {"HEAD"}]
    assert ("/admin/insights", "GET") in routes
    for path, method in routes:
        url = path.replace("{reference}", "DB-0000-0000-0000")
        response = client.request(method, url)
        if path == "/admin/login":
            continue
        assert response.status_code in {303, 307, 401, 403}, (method, path, response.status_code)
        assert "DB-" not in response.text or response.status_code == 303


@pytest.mark.parametrize("action", ["reply", "note", "status"])
@pytest.mark.parametrize("csrf", [None, "", "forged", "A" * 43])
def test_admin_forms_need_the_session_csrf_token(app_client, action: str,
                                                 csrf: str | None) -> None:
    client: TestClient = app_client(**OPEN_LIMITS)
    reference = client.post("/api/v1/tickets", json=GOOD_TICKET).json()["reference"]
    log_in(client)
    form = {"body": "hello", "status": "solved"}
    if csrf is not None:
        form["csrf"] = csrf
    response = client.post(f"/admin/tickets/{reference}/{action}", data=form)
    assert response.status_code == 403
    ticket = client.app.state.services.tickets.get(reference)  # type: ignore[attr-defined]
    assert ticket["status"] == "new" and len(ticket["thread"]) == 1


def test_no_get_changes_state(app_client) -> None:
    client: TestClient = app_client(**OPEN_LIMITS)
    reference = client.post("/api/v1/tickets", json=GOOD_TICKET).json()["reference"]
    csrf = log_in(client)
    before = client.app.state.services.tickets.get(reference)  # type: ignore[attr-defined]
    for path in ["reply", "note", "status"]:
        url = f"/admin/tickets/{reference}/{path}?csrf={csrf}&body=x&status=solved"
        assert client.get(url).status_code == 405
    client.get(f"/admin/tickets/{reference}")
    assert client.app.state.services.tickets.get(reference) == before  # type: ignore[attr-defined]


def test_login_brute_force_is_rate_limited_with_retry_after(app_client) -> None:
    client: TestClient = app_client()
    statuses = []
    for _ in range(15):
        page = client.get("/admin/login")
        answer = client.post("/admin/login", data={"csrf": csrf_of(page.text),
                                                   "password": secrets.token_hex(8)})
        statuses.append(answer.status_code)
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
    assert answer.headers["retry-after"].isdigit()


EVIL_NEXT = ["//evil.com", "/\\evil.com", "https:evil.com", "https://evil.com", "/admin@evil.com",
             "%2F%2Fevil.com", "/%2F%2Fevil.com", "/admin/..%2F..%2F%2Fevil.com", "//evil.com/admin",
             "/admin/\\\\evil.com", "\t//evil.com", "/admin\r\nLocation: //evil.com",
             "javascript:alert(1)", "/admin//evil.com"]


@pytest.mark.parametrize("target", EVIL_NEXT)
def test_next_never_leaves_the_site(app_client, target: str) -> None:
    client: TestClient = app_client()
    page = client.get("/admin/login?next=" + quote(target, safe="%"))
    response = client.post("/admin/login", data={"csrf": csrf_of(page.text),
                                                 "password": "correct horse battery staple",
                                                 "next": target})
    location = response.headers["location"]
    assert response.status_code == 303
    assert location.startswith("/admin") and not location.startswith("//")
    assert "\\" not in location and "evil.com" not in httpx.URL(location).host


@pytest.mark.parametrize("public_url", ["", "https://help.example.com"])
def test_forged_host_never_reaches_links(app_client, public_url: str) -> None:
    client: TestClient = app_client(public_url=public_url, **OPEN_LIMITS)
    for path in ["/kb/", "/kb/account/reset-password", "/embed", "/widget.js", "/admin/login",
                 "/kb/search?q=password"]:
        response = client.get(path, headers={"host": "evil.example"})
        assert "evil.example" not in response.text, path
        assert "evil.example" not in response.headers.get("location", "")


def test_unknown_reference_and_wrong_token_answer_identically(open_client: TestClient) -> None:
    created = open_client.post("/api/v1/tickets", json=GOOD_TICKET).json()
    wrong_token = open_client.get(f"/api/v1/tickets/{created['reference']}",
                                  headers={"authorization": "Bearer " + "x" * 43})
    unknown = open_client.get("/api/v1/tickets/DB-0000-0000-0000",
                              headers={"authorization": "Bearer " + created["token"]})
    assert wrong_token.status_code == unknown.status_code == 404
    assert wrong_token.content == unknown.content
    assert dict(wrong_token.headers) == dict(unknown.headers)


def test_ten_thousand_guesses_find_nothing_and_are_stopped(open_client: TestClient) -> None:
    created = open_client.post("/api/v1/tickets", json=GOOD_TICKET).json()
    statuses: dict[int, int] = {}
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    for _ in range(10_000):
        chars = "".join(secrets.choice(alphabet) for _ in range(12))
        guess = f"DB-{chars[:4]}-{chars[4:8]}-{chars[8:]}"
        answer = open_client.get(f"/api/v1/tickets/{guess}",
                                 headers={"authorization": "Bearer " + secrets.token_urlsafe(32)})
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
    assert statuses.get(200, 0) == 0
    assert statuses[404] == 20 and statuses[429] == 9_980
    assert answer.headers["retry-after"].isdigit()
    # A limited guesser is stopped even with the right token; other addresses are not.
    mine = f"/api/v1/tickets/{created['reference']}"
    assert open_client.get(mine, headers={"authorization": "Bearer " + created["token"]}
                           ).status_code == 429


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(live) -> None:  # type: ignore[no-untyped-def]
    """uvicorn trusts X-Forwarded-For only from forwarded_allow_ips (127.0.0.1 by default):
    a peer at 127.0.0.2 cannot dodge its limit by claiming a fresh address on each request."""
    server = live(ticket_rate_limit="3/minute")
    statuses = []
    for n in range(6):
        statuses.append(post_from("127.0.0.2", server.port, f"203.0.113.{n}"))
    assert statuses == [201, 201, 201, 429, 429, 429]
    # The trusted proxy on 127.0.0.1 does pass the visitor's address through.
    assert post_from("127.0.0.1", server.port, "198.51.100.7") == 201


def post_from(source: str, port: int, forwarded_for: str) -> int:
    body = json.dumps(GOOD_TICKET).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(source, 0)) as sock:
        sock.sendall(b"POST /api/v1/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nX-Forwarded-For: "
                     + forwarded_for.encode() + b"\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        return int(sock.recv(4096).split(b" ", 2)[1])


def test_a_valid_signature_opens_only_its_own_visitors_tickets(app_client) -> None:
    """Alice's genuine signature, in every form a page could send it, opens none of Bob's
    tickets on any visitor route, and lists none of them."""
    import base64

    from widget_server import identity

    secret = "adversarial-identity-secret-0123456789"
    client: TestClient = app_client(identity_secret=secret, **OPEN_LIMITS)
    bob = client.post("/api/v1/tickets", json={**GOOD_TICKET, "email": "bob@example.com"})
    bob_by_id = client.post("/api/v1/tickets", json={**GOOD_TICKET, "identity": {
        "email": "bob@example.com", "user_id": "7", "signature": identity.sign(secret, "7")}})
    references = [bob.json()["reference"], bob_by_id.json()["reference"]]
    alice = [{"email": "alice@example.com", "signature": identity.sign(secret, "alice@example.com")},
             {"email": "bob@example.com", "user_id": "8", "signature": identity.sign(secret, "8")},
             {"email": "alice@example.com", "user_id": "7 ",
              "signature": identity.sign(secret, "7 ")}]
    for claim in alice:
        listed = client.post("/api/v1/identity/tickets", json={"identity": claim}).json()
        assert listed["verified"] is True and listed["tickets"] == []
        token = base64.urlsafe_b64encode(json.dumps(claim).encode()).decode()
        auth = {"authorization": f"Identity {token}"}
        for reference in references:
            base = f"/api/v1/tickets/{reference}"
            assert client.get(base, headers=auth).status_code == 404
            assert client.post(f"{base}/messages", json={"body": "hi"},
                               headers=auth).status_code == 404
            assert client.post(f"{base}/rating", json={"csat": 1},
                               headers=auth).status_code == 404
    for ticket in client.app.state.services.tickets.iter_tickets():  # type: ignore[attr-defined]
        assert [e["author"] for e in ticket["thread"]] == ["visitor"] and not ticket["ratings"]
