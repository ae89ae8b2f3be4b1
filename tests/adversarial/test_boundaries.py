"""The edges of every request: size caps, content types, broken JSON, odd characters, repeated
parameters, wrong methods and server-owned fields. Bad input gets a clear 4xx and loses nothing."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from .conftest import GOOD_TICKET

WRITE_ENDPOINTS = ["/api/v1/tickets", "/api/v1/events", "/api/v1/articles/account/reset-password/feedback"]

MALFORMED = {
    "truncated": b'{"name": "Ada", "email": ',
    "trailing comma": b'{"name": "Ada",}',
    "NaN": b'{"name": NaN}',
    "Infinity": b'{"elapsed_ms": Infinity}',
    "BOM": b'\xef\xbb\xbf{"name": "Ada"}',
    "empty": b"",
    "blank": b"   \n",
    "deeply nested": b'{"trail": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "deep objects": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "not an object": b"[1, 2, 3]",
    "bare string": b'"hello"',
    "invalid utf-8": b'{"name": "\xff\xfe"}',
    "single quotes": b"{'name': 'Ada'}",
}


GOOD_BODIES = {
    "/api/v1/tickets": GOOD_TICKET,
    "/api/v1/events": {"session": "s_" + "b" * 22,
                       "events": [{"type": "article_view", "slug": "account/reset-password"}]},
    "/api/v1/articles/account/reset-password/feedback": {"helpful": True},
}


def kept(client: TestClient) -> int:
    """Everything the write endpoints keep: tickets, and the events store that events and
    feedback go to."""
    state = client.app.state.services  # type: ignore[attr-defined]
    return int(state.tickets.count()) + sum(1 for _ in state.events.iter_events())


@pytest.mark.parametrize("path", WRITE_ENDPOINTS)
def test_a_good_write_is_kept_where_the_refusals_are_counted(open_client: TestClient,
                                                             path: str) -> None:
    # The control for "loses nothing" below: a count that no write could move proves nothing.
    response = open_client.post(path, json=GOOD_BODIES[path])
    assert response.status_code in (201, 202), response.text
    assert kept(open_client) > 0


@pytest.mark.parametrize("path", WRITE_ENDPOINTS)
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_json_is_a_400_never_a_500(open_client: TestClient, path: str,
                                              case: str) -> None:
    response = open_client.post(path, content=MALFORMED[case],
                                headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"
    assert kept(open_client) == 0


@pytest.mark.parametrize("path", WRITE_ENDPOINTS)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "",
                                          "application/jsonx", "text/json"])
def test_wrong_content_type_is_415(open_client: TestClient, path: str,
                                   content_type: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = open_client.post(path, content=json.dumps(GOOD_TICKET).encode(), headers=headers)
    # Tickets also take multipart (a json part and files): JSON under that name is a body
    # that cannot be read, a 400 that says so.
    uploads = path == "/api/v1/tickets" and content_type.startswith("multipart/form-data")
    assert response.status_code == (400 if uploads else 415), response.text
    if uploads:
        assert "multipart body cannot be read" in response.json()["error"]["message"]
    assert kept(open_client) == 0


def test_json_with_charset_parameter_is_accepted(open_client: TestClient) -> None:
    response = open_client.post("/api/v1/tickets", content=json.dumps(GOOD_TICKET).encode(),
                                headers={"content-type": "application/json; charset=utf-8"})
    assert response.status_code == 201


@pytest.mark.parametrize("path", WRITE_ENDPOINTS)
def test_declared_body_over_the_cap_is_refused_before_reading(open_client: TestClient,
                                                               path: str) -> None:
    cap = open_client.app.state.services.settings.max_body_bytes  # type: ignore[attr-defined]
    response = open_client.post(path, content=b"{" + b" " * cap + b"}",
                                headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert kept(open_client) == 0


@pytest.mark.parametrize("path", WRITE_ENDPOINTS)
def test_chunked_body_over_the_cap_is_refused(open_client: TestClient, path: str) -> None:
    cap = open_client.app.state.services.settings.max_body_bytes  # type: ignore[attr-defined]

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(cap // 1024 + 2):
            yield b"a" * 1024
        yield b'"}'

    response = open_client.post(path, content=chunks(),
                                headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert kept(open_client) == 0


def test_declared_oversize_is_answered_without_sending_the_body(live) -> None:  # type: ignore[no-untyped-def]
    """Through real uvicorn: the 413 arrives although not one byte of the body was sent."""
    server = live()
    request = (b"POST /api/v1/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")


def test_bad_content_length_is_a_400(open_client: TestClient) -> None:
    response = open_client.post("/api/v1/tickets", content=b"{}",
                                headers={"content-type": "application/json",
                                         "content-length": "12abc"})
    assert response.status_code in {400, 413}


@pytest.mark.parametrize("field", ["name", "subject", "message", "email"])
@pytest.mark.parametrize("bad", ["\ud800", "a\udfffb", "x\x00y", "\x1b[31mred", "\x7f", "\x85"])
def test_surrogates_nul_and_controls_are_refused_per_field(open_client: TestClient, field: str,
                                                           bad: str) -> None:
    body = json.dumps({**GOOD_TICKET, field: bad}).encode()  # \ud800 travels as an escape
    response = open_client.post("/api/v1/tickets", content=body,
                                headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["details"]
    assert kept(open_client) == 0


def test_line_breaks_are_kept_in_the_message_but_not_in_the_subject(
        open_client: TestClient) -> None:
    ok = open_client.post("/api/v1/tickets", json={**GOOD_TICKET, "message": "one\r\ntwo\tthree"})
    assert ok.status_code == 201
    bad = open_client.post("/api/v1/tickets", json={**GOOD_TICKET, "subject": "one\ntwo"})
    assert bad.status_code == 422


@pytest.mark.parametrize("bad", ["\ud800", "a\x00b", "\x1b"])
def test_lone_surrogates_in_feedback_comments_and_trails_are_refused(
        open_client: TestClient, bad: str) -> None:
    feedback = open_client.post("/api/v1/articles/account/reset-password/feedback",
                                content=json.dumps({"helpful": False, "comment": bad}).encode(),
                                headers={"content-type": "application/json"})
    assert feedback.status_code == 422, feedback.text
    trail = {"searches": [{"q": bad, "results": 0}]}
    ticket = open_client.post("/api/v1/tickets",
                              content=json.dumps({**GOOD_TICKET, "trail": trail}).encode(),
                              headers={"content-type": "application/json"})
    assert ticket.status_code == 422, ticket.text


def test_surrogates_in_query_strings_do_not_break_search(open_client: TestClient) -> None:
    for raw in ["%ED%A0%80", "%00", "%FF%FE", "a%0Ab", "%C0%AF"]:
        response = open_client.get(f"/api/v1/search?q={raw}")
        assert response.status_code in {200, 400}, (raw, response.text)
        page = open_client.get(f"/kb/search?q={raw}")
        assert page.status_code in {200, 400}, (raw, page.text)


def test_repeated_parameters_are_deterministic(open_client: TestClient) -> None:
    first = open_client.get("/api/v1/search?q=password&q=zzzz&limit=2&limit=20").json()
    again = open_client.get("/api/v1/search?q=password&q=zzzz&limit=2&limit=20").json()
    assert first == again
    assert first["query"] == "password" and len(first["results"]) <= 2


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/tickets"), ("PUT", "/api/v1/tickets"), ("DELETE", "/api/v1/tickets"),
    ("PATCH", "/api/v1/tickets/DB-0000-0000-0000"), ("DELETE", "/api/v1/tickets/DB-0000-0000-0000"),
    ("GET", "/api/v1/events"), ("PUT", "/api/v1/search"), ("DELETE", "/admin/tickets/X/status"),
    ("GET", "/admin/tickets/X/reply"), ("GET", "/admin/logout"),
])
def test_wrong_methods_are_405_and_change_nothing(open_client: TestClient, method: str,
                                                  path: str) -> None:
    response = open_client.request(method, path, json=GOOD_TICKET)
    assert response.status_code == 405, response.text
    assert kept(open_client) == 0


@pytest.mark.parametrize("field", ["status", "reference", "token_hash", "created_at", "thread",
                                   "ratings", "first_reply_at", "category", "id"])
def test_server_fields_cannot_be_mass_assigned(open_client: TestClient, field: str) -> None:
    forged = {"status": "solved", "reference": "DB-AAAA-AAAA-AAAA", "token_hash": "0" * 64,
              "created_at": "2000-01-01T00:00:00+00:00", "thread": [], "ratings": [],
              "first_reply_at": "2000-01-01T00:00:00+00:00", "category": "vip", "id": 1}
    response = open_client.post("/api/v1/tickets", json={**GOOD_TICKET, field: forged[field]})
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {field: "unknown field"}
    assert kept(open_client) == 0


def test_stored_ticket_has_server_values_only(open_client: TestClient) -> None:
    created = open_client.post("/api/v1/tickets", json=GOOD_TICKET).json()
    stored = open_client.app.state.services.tickets.get(created["reference"])  # type: ignore[attr-defined]
    assert stored["status"] == "new" and stored["first_reply_at"] is None
    assert stored["token_hash"] != created["token"]


def raw_status(port: int, request_line: bytes) -> bytes:
    """The status code of a hand-written request (clients refuse to send such URLs)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request_line + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = sock.recv(4096)
    return answer.split(b" ", 2)[1] if answer else b"closed"


def test_huge_query_strings_and_headers_are_refused_by_uvicorn(live) -> None:  # type: ignore[no-untyped-def]
    server = live()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        long_query = http.get("/api/v1/search", params={"q": "a" * 3000})
        assert long_query.status_code == 400  # our own cap on q
        assert raw_status(server.port, b"GET /api/v1/search?q=" + b"a" * 200_000) in {
            b"400", b"414", b"431"}
        # uvicorn with httptools reads any header size; Deskbell refuses them before routing
        padded = http.get("/api/v1/search?q=a", headers={"x-padding": "a" * 200_000})
        assert padded.status_code == 431
        assert http.get("/healthz").status_code == 200  # and still serves everyone else
