"""Hostile email through the real LMTP listener: header injection, encoded-word tricks,
scripts, undeclared 8-bit text, a 30 MB attachment, MIME part bombs. Nothing crashes the
listener, nothing threads where it should not, nothing reaches a page unescaped."""

from __future__ import annotations

import base64
import smtplib
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from widget_server.app import create_app

from ..mailkit import SUPPORT, Inbox, lmtp_listener, lmtp_session, new_mail, smtp_sink
from ..test_admin import PASSWORD, log_in
from ..test_mailin import agent_reply, open_ticket, stored


@pytest.fixture
def world(make_settings) -> Iterator[tuple[TestClient, Inbox, int]]:
    with smtp_sink() as (inbox, smtp_port):
        settings = make_settings(smtp_host="127.0.0.1", smtp_port=smtp_port,
                                 notify_email="owner@example.com", admin_password=PASSWORD,
                                 mail_reply_to=SUPPORT)
        with TestClient(create_app(settings), follow_redirects=False) as app, \
                lmtp_listener(settings) as (_, port):
            log_in(app)
            yield app, inbox, port


def raw_mail(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body


def only_ticket(app: TestClient) -> dict[str, Any]:
    [ticket] = list(app.app.state.services.tickets.iter_tickets())  # type: ignore[attr-defined]
    return ticket


def test_crlf_in_encoded_headers_cannot_add_a_header_or_a_recipient(world) -> None:
    app, inbox, port = world
    raw = raw_mail(
        "From: =?utf-8?q?Eve=0D=0ABcc=3A_victim=40example=2Ecom?= <eve@example.org>\n"
        "To: support@example.com\n"
        "Subject: =?utf-8?q?Hello=0D=0ABcc=3A_victim=40example=2Ecom=0D=0A=0D=0Abody?=\n"
        "Message-ID: <inj1@example.org>\n", b"Please help.\r\n")
    [(code, _)] = lmtp_session(port, raw, [SUPPORT], "eve@example.org")
    assert code == 250
    ticket = only_ticket(app)
    assert "\r" not in ticket["subject"] and "\n" not in ticket["subject"]
    assert "\n" not in ticket["name"] and ticket["email"] == "eve@example.org"
    inbox.wait_for("owner@example.com")
    [(to, notice)] = inbox.messages  # the owner's notice, and nothing else
    assert to == ["owner@example.com"] and notice["Bcc"] is None


def test_an_encoded_word_that_looks_like_the_visitors_address_is_held_not_threaded(
        world) -> None:
    app, inbox, port = world
    reference, _ = open_ticket(app)
    notice = agent_reply(app, inbox, reference, "What is your order number?")
    for i, sender in enumerate(("=?utf-8?q?ada=40example=2Ecom?= <mallory@evil.example>",
                                '"ada@example.com" <mallory@evil.example>')):
        raw = raw_mail(f"From: {sender}\nTo: {notice['Reply-To']}\nSubject: Re: x\n"
                       f"Message-ID: <spoof{i}@evil.example>\n", b"Send the refund to me.\r\n")
        [(code, text)] = lmtp_session(port, raw, [str(notice["Reply-To"])])
        assert code == 250 and "held" in text
    thread = stored(app, reference)["thread"]
    assert [e["author"] for e in thread[-2:]] == ["held", "held"]
    assert all("mallory@evil.example" in e["author_name"] for e in thread[-2:])


def test_html_with_scripts_never_reaches_the_admin_page_as_markup(world) -> None:
    app, _, port = world
    html = (b"<html><body onload=alert(1)><script>alert(2)</script>"
            b"<style>*{display:none}</style><p>Hi <img src=x onerror=alert(3)>"
            b"&lt;script&gt;alert(4)&lt;/script&gt;</p><iframe src=javascript:alert(5)>"
            b"</iframe></body></html>")
    raw = raw_mail("From: Eve <eve@example.org>\nTo: support@example.com\n"
                   "Subject: <script>alert(6)</script>\nMessage-ID: <x1@example.org>\n"
                   "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n", html)
    [(code, _)] = lmtp_session(port, raw, [SUPPORT], "eve@example.org")
    assert code == 250
    ticket = only_ticket(app)
    assert "alert(2)" not in ticket["message"] and "display:none" not in ticket["message"]
    page = app.get(f"/admin/tickets/{ticket['reference']}").text
    assert "<script>alert" not in page and "onerror=alert" not in page.replace("&", "")
    assert "&lt;script&gt;alert(6)&lt;/script&gt;" in page


@pytest.mark.parametrize("content_type,body", [
    ("text/plain", b"caf\xe9 na\xefve \xff\xfe\x00 end"),  # 8-bit, no charset, a NUL
    ("text/plain; charset=x-no-such-charset", b"caf\xc3\xa9 ok"),
    ("text/plain; charset=utf-8", b"broken \xc3\x28 utf-8"),
    ("text/plain; charset=utf-8\nContent-Transfer-Encoding: base64", b"@@@not base64!!\r\n"),
    ("multipart/mixed; boundary=zzz", b"--zzz\r\nContent-Type: text/plain\r\n\r\nno end"),
], ids=["undeclared-8bit", "unknown-charset", "invalid-utf8", "broken-base64",
        "unterminated-multipart"])
def test_garbled_text_is_read_as_well_as_it_can_be_and_never_crashes(
        world, content_type, body) -> None:
    app, _, port = world
    raw = raw_mail(f"From: Eve <eve@example.org>\nTo: support@example.com\nSubject: \xe9t\xe9\n"
                   f"Message-ID: <g@example.org>\nMIME-Version: 1.0\n"
                   f"Content-Type: {content_type}\n", body + b"\r\n")
    [(code, text)] = lmtp_session(port, raw, [SUPPORT], "eve@example.org")
    assert code in {250, 550}, text  # a ticket, or a clear refusal: never a crash or 451
    if code == 250:
        ticket = only_ticket(app)
        assert "\x00" not in ticket["message"]
        assert app.get(f"/admin/tickets/{ticket['reference']}").status_code == 200


def test_a_30_mb_attachment_is_refused_with_552(world) -> None:
    app, _, port = world
    attachment = base64.encodebytes(b"\0" * (30 * 1024 * 1024))
    raw = raw_mail("From: Eve <eve@example.org>\nTo: support@example.com\nSubject: big\n"
                   "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n",
                   b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
                   b"Content-Type: application/octet-stream\r\n"
                   b"Content-Disposition: attachment; filename=big.bin\r\n"
                   b"Content-Transfer-Encoding: base64\r\n\r\n"
                   + attachment.replace(b"\n", b"\r\n") + b"--b--\r\n")
    with smtplib.LMTP("127.0.0.1", port, timeout=30) as lmtp:  # announced: refused at MAIL
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            lmtp.sendmail("eve@example.org", [SUPPORT], raw)
        assert refused.value.smtp_code == 552
    with smtplib.LMTP("127.0.0.1", port, timeout=30) as lmtp:  # not announced: cut at DATA
        lmtp.ehlo()
        lmtp.mail("eve@example.org")
        lmtp.rcpt(SUPPORT)
        code, _ = lmtp.data(raw)
        assert code == 552
    assert app.app.state.services.tickets.count() == 0  # type: ignore[attr-defined]


def test_too_many_parts_are_refused(world) -> None:
    app, _, port = world
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart\r\n" for _ in range(150))
    raw = raw_mail("From: Eve <eve@example.org>\nTo: support@example.com\nSubject: parts\n"
                   "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n",
                   parts + b"--b--\r\n")
    [(code, text)] = lmtp_session(port, raw, [SUPPORT], "eve@example.org")
    assert code == 552 and "MIME parts" in text
    assert app.app.state.services.tickets.count() == 0  # type: ignore[attr-defined]


def test_a_long_message_is_cut_not_refused(world) -> None:
    app, _, port = world
    [(code, _)] = lmtp_session(port, new_mail("word " * 5000), [SUPPORT], "eve@example.org")
    assert code == 250
    assert only_ticket(app)["message"].endswith("[…]")
