"""Attachments as an attacker sends them: polyglots, script in images, markup under another
name, and uploads that trickle or lie about their length, against a real uvicorn."""

from __future__ import annotations

import io
import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.settings import Settings

from ..conftest import served
from .conftest import GOOD_TICKET, OPEN_LIMITS

URL = "/api/v1/tickets"
LIMIT = 100_000  # attachment_max_bytes in these tests
SCRIPT = b"alert(document.domain)"


def gif_js_polyglot() -> bytes:
    """A GIF that decodes as an image and carries script: in a comment extension and after
    the trailer (a page that loads it with <script src> would run what follows)."""
    out = io.BytesIO()
    Image.new("P", (8, 8), 1).save(out, "GIF", comment=b"*/" + SCRIPT + b"//")
    data = out.getvalue()
    assert SCRIPT in data
    return data + b"\n" + SCRIPT + b";"


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>" + SCRIPT + b"</script></body></html>"
PDF_HTML = b"%PDF-1.4\n<html><body><script>" + SCRIPT + b"</script></body></html>\n%%EOF"


@pytest.fixture
def api(make_settings) -> Iterator[TestClient]:
    settings = make_settings(**OPEN_LIMITS, attachment_max_bytes=LIMIT)
    with TestClient(create_app(settings)) as client:
        yield client


def post(api: TestClient, name: str, data: bytes, kind: str) -> Any:
    return api.post(URL, data={"json": json.dumps(GOOD_TICKET)},
                    files=[("files", (name, data, kind))])


def blobs(data_dir: Any) -> list[Path]:
    root = Path(data_dir) / "attachments"
    return [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []


def settings_of(api: TestClient) -> Settings:
    settings: Settings = api.app.state.services.settings  # type: ignore[attr-defined]
    return settings


def test_a_gif_js_polyglot_is_re_encoded_without_its_script(api: TestClient) -> None:
    answer = post(api, "cat.gif", gif_js_polyglot(), "image/gif")
    assert answer.status_code == 201, answer.text
    [blob] = blobs(settings_of(api).data_dir)
    kept = blob.read_bytes()
    assert SCRIPT not in kept and kept.startswith(b"\x89PNG")
    ticket = api.get(f"{URL}/{answer.json()['reference']}",
                     headers={"Authorization": f"Bearer {answer.json()['token']}"}).json()
    assert ticket["thread"][0]["attachments"][0]["type"] == "image/png"


def test_a_pdf_html_polyglot_is_only_ever_a_download(api: TestClient) -> None:
    answer = post(api, "report.html", PDF_HTML, "text/html")
    assert answer.status_code == 201
    token, ref = answer.json()["token"], answer.json()["reference"]
    view = api.get(f"{URL}/{ref}", headers={"Authorization": f"Bearer {token}"}).json()
    [shown] = view["thread"][0]["attachments"]
    assert shown["type"] == "application/pdf" and shown["name"] == "report.html.pdf"
    got = api.get(shown["url"], headers={"Authorization": f"Bearer {token}"})
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"


@pytest.mark.parametrize(("name", "data", "kind"), [
    ("logo.svg", SVG, "image/svg+xml"),
    ("logo.png", SVG, "image/png"),
    ("photo.png", HTML, "image/png"),
    ("notes.txt", b"  \n<html><script>x()</script>", "text/plain"),
    ("feed.txt", b'<?xml version="1.0"?><x/>', "text/plain"),
    ("fake.png", b"\x89PNG\r\n\x1a\n" + HTML, "image/png"),
    ("fake.jpg", b"\xff\xd8\xff\xe0" + HTML, "image/jpeg"),
    ("bundle.zip", b"PK\x03\x04" + b"\x00" * 30, "application/zip"),
])
def test_markup_and_disguised_files_are_refused(api: TestClient, name: str, data: bytes,
                                                kind: str) -> None:
    answer = post(api, name, data, kind)
    assert answer.status_code == 415, answer.text
    assert "images, PDF documents, or plain text" in answer.json()["error"]["message"]
    assert blobs(settings_of(api).data_dir) == []


@pytest.mark.parametrize("name", ["../../../../etc/cron.d/x", "/etc/passwd", "..\\..\\boot.ini",
                                  "a\x00b.txt", "\u202egnp.exe", "con", "x" * 1000])
def test_path_tricks_in_names_never_reach_the_disk(api: TestClient, name: str) -> None:
    answer = post(api, name, b"plain words", "text/plain")
    assert answer.status_code == 201, answer.text
    data_dir = Path(settings_of(api).data_dir)
    [blob] = blobs(data_dir)
    assert blob.parent.parent == data_dir / "attachments" and len(blob.name) == 64
    view = api.get(f"{URL}/{answer.json()['reference']}",
                   headers={"Authorization": f"Bearer {answer.json()['token']}"}).json()
    shown = view["thread"][0]["attachments"][0]["name"]
    assert "/" not in shown and "\\" not in shown and "\x00" not in shown
    assert "\u202e" not in shown and len(shown) <= 120 and shown.endswith(".txt")


def test_a_part_header_too_long_to_read_is_400(api: TestClient) -> None:
    answer = post(api, "x" * 5000, b"plain words", "text/plain")
    assert answer.status_code == 400
    assert blobs(settings_of(api).data_dir) == []


# ---------------------------------------------------------------- over a real socket


BOUNDARY = b"deskbellboundary"
START = (b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="json"\r\n\r\n' +
         json.dumps(GOOD_TICKET).encode() + b"\r\n--" + BOUNDARY +
         b'\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
         b"Content-Type: text/plain\r\n\r\n")
END = b"\r\n--" + BOUNDARY + b"--\r\n"


def _head(base: str, extra: str) -> socket.socket:
    """A connection that has sent a multipart upload's request line and headers."""
    host = urlsplit(base)
    sock = socket.create_connection((host.hostname, host.port), timeout=10)
    sock.sendall((f"POST {URL} HTTP/1.1\r\nHost: {host.netloc}\r\n"
                  f"Content-Type: multipart/form-data; boundary={BOUNDARY.decode()}\r\n"
                  f"{extra}\r\n").encode())
    return sock


def _status(sock: socket.socket) -> int:
    answer = b""
    while b"\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return int(answer.split(b" ")[1]) if answer.startswith(b"HTTP/1.1") else 0


def trickle(base: str, chunk: int = 4096, pause: float = 0.002,
            give_up: int = 4 * LIMIT) -> tuple[int, int, float]:
    """Send a chunked upload a few KB at a time, as a slow client would, until the server
    answers; returns (status, bytes of the file sent, seconds to the answer)."""
    sock = _head(base, "Transfer-Encoding: chunked\r\n")
    began = time.monotonic()
    sent = 0
    with sock:
        sock.sendall(b"%x\r\n%s\r\n" % (len(START), START))
        while sent < give_up:
            piece = b"a" * chunk
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            except OSError:  # the server answered and closed
                break
            sent += chunk
            if select.select([sock], [], [], pause)[0]:
                break
        return _status(sock), sent, time.monotonic() - began


def test_a_trickled_upload_is_cut_at_the_limit_and_nothing_is_stored(make_settings) -> None:
    settings = make_settings(**OPEN_LIMITS, attachment_max_bytes=LIMIT)
    app = create_app(settings)
    with served(app) as base:
        status, sent, _ = trickle(base)
    assert status == 413
    assert sent <= LIMIT + 64 * 1024  # cut at the limit, not at the end of the body
    assert blobs(settings.data_dir) == []
    assert list(app.state.services.tickets.iter_tickets()) == []


def test_a_content_length_that_understates_stores_nothing(make_settings) -> None:
    """uvicorn reads only the bytes declared: the message is cut short (no closing boundary),
    refused, and what follows is not taken for anything."""
    settings = make_settings(**OPEN_LIMITS, attachment_max_bytes=LIMIT)
    app = create_app(settings)
    with served(app) as base:
        sock = _head(base, "Content-Length: 1000\r\n")
        with sock:
            try:
                sock.sendall(START + b"a" * 3 * LIMIT + END)
            except OSError:
                pass
            status = _status(sock)
    assert status in {400, 413}
    assert blobs(settings.data_dir) == []
    assert list(app.state.services.tickets.iter_tickets()) == []


def test_a_file_over_the_limit_in_an_honest_body_is_413(make_settings) -> None:
    """Content-Length under the body cap (five files' worth), one file over its own cap."""
    settings = make_settings(**OPEN_LIMITS, attachment_max_bytes=LIMIT)
    app = create_app(settings)
    with served(app) as base:
        body = START + b"a" * (2 * LIMIT) + END
        sock = _head(base, f"Content-Length: {len(body)}\r\n")
        with sock:
            try:
                sock.sendall(body)
            except OSError:
                pass
            status = _status(sock)
    assert status == 413
    assert blobs(settings.data_dir) == []
