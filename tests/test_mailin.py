"""Replies by email over real servers: the agent's reply reaches an aiosmtpd sink with the
ticket's reply address, the visitor's answer comes back over LMTP (Deskbell's listener,
driven by smtplib.LMTP) and lands on the ticket; what must not thread never does."""

from __future__ import annotations

import email
import os
import re
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage, Message
from email.policy import default as default_policy
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from cli.main import main
from widget_server import mail
from widget_server.app import create_app
from widget_server.settings import Settings
from widget_server.tickets import open_ticket_store

from .conftest import REPO, free_port
from .mailkit import (
    SUPPORT,
    VISITOR,
    Inbox,
    deliver,
    lmtp_listener,
    lmtp_session,
    new_mail,
    reply_to,
    smtp_sink,
    text_of,
    wire,
)
from .test_admin import PASSWORD, csrf_of, log_in


@pytest.fixture
def sink() -> Iterator[tuple[Inbox, int]]:
    with smtp_sink() as running:
        yield running


@pytest.fixture
def mail_settings(make_settings, sink) -> Settings:
    settings: Settings = make_settings(
        smtp_host="127.0.0.1", smtp_port=sink[1], notify_email="owner@example.com",
        admin_password=PASSWORD, public_url="https://help.example.com", mail_reply_to=SUPPORT,
        mail_from="help@example.com")
    return settings


@pytest.fixture
def app(mail_settings) -> Iterator[TestClient]:
    with TestClient(create_app(mail_settings), follow_redirects=False) as client:
        log_in(client)
        yield client


@pytest.fixture
def listener(mail_settings) -> Iterator[int]:
    with lmtp_listener(mail_settings) as (_, port):
        yield port


def open_ticket(app: TestClient, **changes: Any) -> tuple[str, str]:
    answer = app.post("/api/v1/tickets", json={**VISITOR, **changes}).json()
    return answer["reference"], answer["token"]


def agent_reply(app: TestClient, inbox: Inbox, reference: str, body: str,
                status: str = "solved", to: str = "ada@example.com") -> Message:
    csrf = csrf_of(app.get(f"/admin/tickets/{reference}").text)
    before = len(inbox.to(to))
    response = app.post(f"/admin/tickets/{reference}/reply",
                        data={"csrf": csrf, "body": body, "status": status})
    assert response.status_code == 303, response.text
    return inbox.wait_for(to, before + 1)[-1]


def visitor_view(app: TestClient, reference: str, token: str) -> dict[str, Any]:
    response = app.get(f"/api/v1/tickets/{reference}",
                       headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200
    shown: dict[str, Any] = response.json()
    return shown


def stored(app: TestClient, reference: str) -> dict[str, Any]:
    ticket: dict[str, Any] = app.app.state.services.tickets.get(reference)  # type: ignore[attr-defined]
    return ticket


def test_a_visitor_answers_the_agents_email_and_the_ticket_reopens(app, sink, listener) -> None:
    inbox, _ = sink
    reference, token = open_ticket(app)
    notice = agent_reply(app, inbox, reference, "Your invoice is under Account > Invoices.")

    # The visitor's email: the agent's words, a reply address only this server can make,
    # and headers that thread it in a mail client.
    tag = mail.reply_tag(app.app.state.services.helpdesk.reply_key, reference)  # type: ignore[attr-defined]
    assert notice["Reply-To"] == f"support+{reference}.{tag}@example.com"
    assert re.fullmatch(rf"<{reference}\.[0-9a-f]+@example\.com>", notice["Message-ID"])
    first = stored(app, reference)["thread"][0]["id"]
    assert notice["In-Reply-To"] == f"<{reference}.{first}@example.com>"
    text = text_of(notice)
    assert "Your invoice is under Account > Invoices." in text
    assert "Reply to this email" in text and "https://help.example.com/kb/" in text
    assert VISITOR["message"] not in text and VISITOR["subject"] not in str(notice["Subject"])

    answer = reply_to(notice, "Found it, thank you!\n\nOne more thing: can I get it as PDF?\n\n"
                              "-- \nAda Lovelace\nAnalytical Engines Ltd")
    assert deliver(listener, answer, str(notice["Reply-To"])) == {}

    shown = visitor_view(app, reference, token)
    assert shown["status"] == "open"  # it was solved
    last = shown["thread"][-1]
    assert last["author"] == "visitor" and last["author_name"] == "Ada Lovelace"
    assert last["body"] == "Found it, thank you!\n\nOne more thing: can I get it as PDF?"
    [owner_notice] = [m for m in inbox.wait_for("owner@example.com", 2)
                      if "Reply by email" in str(m["Subject"])]
    assert owner_notice["Subject"] == f"Reply by email to {reference}"
    assert "can I get it as PDF?" in text_of(owner_notice)

    # The next reply threads under the visitor's own message.
    second = agent_reply(app, inbox, reference, "Yes: the PDF button on the right.")
    assert second["In-Reply-To"] == answer_id(answer)
    assert answer_id(answer) in str(second["References"])


def answer_id(raw: bytes) -> str:
    match = re.search(rb"^Message-ID: (<[^>]+>)", raw, re.MULTILINE | re.IGNORECASE)
    assert match
    return match.group(1).decode()


def test_without_mail_reply_to_the_visitor_still_gets_fixed_text_only(make_settings) -> None:
    with smtp_sink() as (inbox, port):
        settings = make_settings(smtp_host="127.0.0.1", smtp_port=port, admin_password=PASSWORD)
        with TestClient(create_app(settings), follow_redirects=False) as app:
            log_in(app)
            reference, _ = open_ticket(app)
            notice = agent_reply(app, inbox, reference, "Secret agent words")
    assert notice["Reply-To"] is None
    assert "Secret agent words" not in text_of(notice)


def test_a_new_email_to_the_support_address_opens_a_ticket(app, sink, listener) -> None:
    inbox, _ = sink
    raw = new_mail("My parcel never arrived.\n\nGrace\n\nSent from my iPhone")
    assert deliver(listener, raw, SUPPORT) == {}
    [ticket] = [t for t in app.app.state.services.tickets.iter_tickets()]  # type: ignore[attr-defined]
    assert (ticket["name"], ticket["email"], ticket["subject"]) == (
        "Grace Hopper", "grace@example.org", "Where is my parcel?")
    assert ticket["message"].startswith("My parcel never arrived.")
    assert "iPhone" not in ticket["message"] and ticket["trail"] == {}
    [notice] = inbox.wait_for("owner@example.com")
    assert notice["Subject"] == f"New request {ticket['reference']}"
    assert inbox.to("grace@example.org") == []  # nobody answers a stranger automatically


def test_a_copy_to_the_support_address_beside_the_reply_opens_nothing(app, sink,
                                                                     listener) -> None:
    inbox, _ = sink
    reference, _ = open_ticket(app)
    notice = agent_reply(app, inbox, reference, "Try again please.")
    replies = lmtp_session(listener, reply_to(notice, "Tried, works."),
                           [str(notice["Reply-To"]), SUPPORT])
    assert [code for code, _ in replies] == [250, 250]
    assert stored(app, reference)["thread"][-1]["body"] == "Tried, works."
    assert app.app.state.services.tickets.count() == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("address", [
    "support+{ref}.0000000000000000@example.com",  # a forged tag
    "support+{ref}@example.com",  # the bare reference never threads
    "support+{ref}.{tag}x@example.com",
    "support+hello@example.com",
    "sales@example.com",  # not our mailbox
])
def test_a_reply_address_not_made_here_is_refused_and_threads_nowhere(
        app, sink, listener, address) -> None:
    inbox, _ = sink
    reference, _ = open_ticket(app)
    notice = agent_reply(app, inbox, reference, "Try again please.")
    tag = str(notice["Reply-To"]).split(".")[1].split("@")[0]
    before = stored(app, reference)["thread"]
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        deliver(listener, reply_to(notice, "Hello"), address.format(ref=reference, tag=tag))
    [(code, text)] = refused.value.recipients.values()
    assert code == 550 and (b"not made by this help desk" in text or b"no such mailbox" in text)
    assert stored(app, reference)["thread"] == before


def test_a_valid_tag_for_a_ticket_that_is_not_here_is_refused(app, listener) -> None:
    key = app.app.state.services.helpdesk.reply_key  # type: ignore[attr-defined]
    ghost = "DB-0000-0000-0000"
    address = f"support+{ghost}.{mail.reply_tag(key, ghost)}@example.com"
    with pytest.raises(smtplib.SMTPDataError) as refused:
        deliver(listener, new_mail("hello", to=address), address)
    assert refused.value.smtp_code == 550 and b"no request DB-0000-0000-0000" in \
        refused.value.smtp_error


@pytest.mark.parametrize("headers,mail_from", [
    ({"Auto_Submitted": "auto-replied"}, "ada@example.com"),
    ({"Precedence": "bulk"}, "ada@example.com"),
    ({"X_Autoreply": "yes"}, "ada@example.com"),
    ({"List_Id": "<support.lists.example.com>"}, "ada@example.com"),
    ({}, ""),  # a bounce: the empty return path
], ids=["auto-submitted", "precedence", "x-autoreply", "list-id", "bounce"])
def test_automatic_mail_is_never_acted_on(app, sink, listener, headers, mail_from) -> None:
    inbox, _ = sink
    reference, token = open_ticket(app)
    notice = agent_reply(app, inbox, reference, "Anything else?")
    before = stored(app, reference)
    raw = reply_to(notice, "I am out of office until Monday.", **headers)
    [(code, text)] = lmtp_session(listener, raw, [str(notice["Reply-To"])], mail_from)
    assert code == 250 and "ignored" in text
    assert stored(app, reference)["thread"] == before["thread"]
    assert stored(app, reference)["status"] == "solved"
    time.sleep(0.2)
    assert len(inbox.to("owner@example.com")) == 1  # the new-ticket notice only


def test_our_own_mail_coming_back_is_a_loop_and_ignored(app, sink, listener) -> None:
    inbox, _ = sink
    reference, _ = open_ticket(app)
    notice = agent_reply(app, inbox, reference, "Anything else?")
    looped = notice.as_bytes()  # forwarded back to us as it was, Auto-Submitted removed
    looped = re.sub(rb"(?im)^Auto-Submitted:.*\r?\n", b"", looped)
    [(code, text)] = lmtp_session(listener, looped, [str(notice["Reply-To"])])
    assert code == 250 and "loop" in text
    assert stored(app, reference)["thread"][-1]["author"] == "agent"


def test_a_reply_from_another_address_is_held_until_an_agent_accepts_it(app, sink,
                                                                       listener) -> None:
    inbox, _ = sink
    reference, token = open_ticket(app)
    notice = agent_reply(app, inbox, reference, "Which order?", status="pending")
    raw = reply_to(notice, "Order 1234 (from my work address)",
                   sender="Ada at Work <ada@analytical.example>")
    [(code, text)] = lmtp_session(listener, raw, [str(notice["Reply-To"])])
    assert code == 250 and "held" in text
    shown = visitor_view(app, reference, token)
    assert "Order 1234" not in str(shown) and shown["status"] == "pending"
    held = stored(app, reference)["thread"][-1]
    assert held["author"] == "held" and held["author_name"] == "Ada at Work <ada@analytical.example>"
    assert "Held message on" in str(inbox.wait_for("owner@example.com", 2)[-1]["Subject"])

    page = app.get(f"/admin/tickets/{reference}").text
    assert "Accept as the visitor's message" in page and "Order 1234" in page
    response = app.post(f"/admin/tickets/{reference}/accept",
                        data={"csrf": csrf_of(page), "entry": held["id"]})
    assert response.status_code == 303
    shown = visitor_view(app, reference, token)
    assert shown["thread"][-1]["body"] == "Order 1234 (from my work address)"
    assert shown["status"] == "open"
    # Not twice, and never without the form's token.
    again = app.post(f"/admin/tickets/{reference}/accept",
                     data={"csrf": csrf_of(page), "entry": held["id"]})
    assert again.status_code == 404
    assert app.post(f"/admin/tickets/{reference}/accept",
                    data={"entry": held["id"]}).status_code == 403


def test_a_closed_ticket_refuses_a_reply_with_the_reason(app, sink, listener) -> None:
    inbox, _ = sink
    reference, _ = open_ticket(app)
    notice = agent_reply(app, inbox, reference, "Done.", status="closed")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        deliver(listener, reply_to(notice, "One more question"), str(notice["Reply-To"]))
    assert refused.value.smtp_code == 550
    assert f"request {reference} is closed".encode() in refused.value.smtp_error
    assert SUPPORT.encode() in refused.value.smtp_error
    assert stored(app, reference)["thread"][-1]["body"] == "Done."


def test_the_same_message_delivered_twice_is_added_once(app, sink, listener) -> None:
    inbox, _ = sink
    reference, _ = open_ticket(app)
    notice = agent_reply(app, inbox, reference, "Try now?")
    raw = reply_to(notice, "Works now.")
    for _ in range(2):  # a relay that lost our first answer tries again
        [(code, _text)] = lmtp_session(listener, raw, [str(notice["Reply-To"])])
        assert code == 250
    bodies = [e["body"] for e in stored(app, reference)["thread"]]
    assert bodies.count("Works now.") == 1


def test_lmtp_answers_each_recipient_on_its_own(app, sink, listener) -> None:
    inbox, _ = sink
    first, _ = open_ticket(app)
    second, _ = open_ticket(app, subject="Another one")
    one = agent_reply(app, inbox, first, "First answer.")
    two = agent_reply(app, inbox, second, "Closed.", status="closed")
    replies = lmtp_session(listener, reply_to(one, "Both, please"),
                           [str(one["Reply-To"]), str(two["Reply-To"])])
    assert [code for code, _ in replies] == [250, 550]
    assert "closed" in replies[1][1]
    assert stored(app, first)["thread"][-1]["body"] == "Both, please"
    assert stored(app, second)["thread"][-1]["body"] == "Closed."


def test_an_html_only_reply_becomes_safe_plain_text(app, sink, listener) -> None:
    inbox, _ = sink
    reference, _ = open_ticket(app)
    notice = agent_reply(app, inbox, reference, "Which browser?")
    html = ("<html><head><style>p{color:red}</style><script>alert('style')</script></head>"
            "<body><p>I use <b>Firefox</b> 128.</p><script>steal()</script>"
            "<div class=gmail_quote>On Mon, Help wrote:<blockquote>Which browser?"
            "</blockquote></div></body></html>")
    raw = (f"From: Ada Lovelace <ada@example.com>\r\nTo: {notice['Reply-To']}\r\n"
           f"Subject: Re: x\r\nMessage-ID: <h1@example.net>\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n").encode()
    assert deliver(listener, raw, str(notice["Reply-To"])) == {}
    body = stored(app, reference)["thread"][-1]["body"]
    assert body == "I use Firefox 128."


def test_a_message_over_the_size_limit_is_refused_before_its_data(make_settings, sink) -> None:
    settings = make_settings(mail_reply_to=SUPPORT, mail_max_bytes=20000)
    with lmtp_listener(settings) as (helpdesk, port):
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            deliver(port, new_mail("x" * 30000), SUPPORT)
        assert refused.value.smtp_code == 552
        assert helpdesk.store.count() == 0


def test_smtp_mode_answers_once_for_the_message(make_settings) -> None:
    settings = make_settings(mail_reply_to=SUPPORT)
    with lmtp_listener(settings, smtp=True) as (helpdesk, port):
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            assert smtp.sendmail("grace@example.org", [SUPPORT], new_mail("Hello")) == {}
        assert helpdesk.store.count() == 1


# ---------------------------------------------------------------- the command


@pytest.mark.parametrize("args,message", [
    ([], "exactly one of --listen HOST:PORT or --imap URL"),
    (["--listen", "127.0.0.1:2525", "--imap", "imap://u:p@h/INBOX"], "exactly one of"),
    (["--listen", "nowhere"], "expected HOST:PORT"),
    (["--listen", "127.0.0.1:99999"], "expected HOST:PORT"),
    (["--imap", "imap://u:p@h/INBOX", "--smtp"], "--smtp goes with --listen"),
    (["--listen", "127.0.0.1:2525", "--once"], "--once goes with --imap"),
    (["--imap", "https://u:p@h/INBOX"], "expected an imaps:// (or imap://) URL"),
    (["--imap", "imaps://h/INBOX"], "names no user"),
    (["--imap", "imaps://u@h/INBOX"], "no IMAP password"),
    (["--imap", "imaps://u:p@h:x/INBOX"], "port is not a number"),
])
def test_mail_in_options_fail_with_one_precise_line(tmp_path, args, message) -> None:
    result = CliRunner().invoke(main, ["mail-in", *args, "--data-dir", str(tmp_path)],
                                env={"DESKBELL_MAIL_REPLY_TO": SUPPORT})
    assert result.exit_code == 2
    assert message in result.output


def test_mail_in_needs_the_support_address(tmp_path) -> None:
    result = CliRunner().invoke(main, ["mail-in", "--listen", "127.0.0.1:2525",
                                       "--data-dir", str(tmp_path)], env={})
    assert result.exit_code == 2 and "set mail_reply_to" in result.output


def test_deskbell_mail_in_listens_until_stopped(tmp_path) -> None:
    """The real command in its own process, as a relay would use it."""
    port = free_port()
    env = {**os.environ, "DESKBELL_MAIL_REPLY_TO": SUPPORT,
           "DESKBELL_DATA_DIR": str(tmp_path / "data"), "DESKBELL_CONFIG": str(tmp_path / "none")}
    process = subprocess.Popen([sys.executable, "-c", "from cli.main import main; main()",
                                "mail-in", "--listen", f"127.0.0.1:{port}"],
                               cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                deliver(port, new_mail("Hello from the relay"), SUPPORT)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert f"LMTP on 127.0.0.1:{port} for {SUPPORT}" in err
    store = open_ticket_store(_settings_for(tmp_path))
    [ticket] = list(store.iter_tickets())
    store.close()
    assert ticket["message"] == "Hello from the relay"


def _settings_for(tmp_path) -> Settings:
    from widget_server.settings import load_settings

    return load_settings(overrides={"data_dir": str(tmp_path / "data")}, config_file=None,
                         environ={})


def test_a_reply_keeps_its_image_and_says_which_files_were_not_kept(app, sink, listener) -> None:
    import io

    from PIL import Image

    inbox, _ = sink
    reference, token = open_ticket(app)
    notice = agent_reply(app, inbox, reference, "Can you send a screenshot?")
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(png, "PNG")
    raw = email.message_from_bytes(reply_to(notice, "Here it is."), policy=default_policy)
    assert isinstance(raw, EmailMessage)
    raw.add_attachment(png.getvalue(), maintype="image", subtype="png", filename="shot.png")
    assert deliver(listener, wire(raw), str(notice["Reply-To"])) == {}
    entry = stored(app, reference)["thread"][-1]
    assert entry["body"] == "Here it is."
    assert [a["name"] for a in entry["attachments"]] == ["shot.png"]

    raw = email.message_from_bytes(reply_to(notice, "And the tool."), policy=default_policy)
    assert isinstance(raw, EmailMessage)
    raw.add_attachment(b"MZ\x90\x00 not a kept type", maintype="application",
                       subtype="octet-stream", filename="tool.exe")
    assert deliver(listener, wire(raw), str(notice["Reply-To"])) == {}
    entry = stored(app, reference)["thread"][-1]
    assert entry["body"].startswith("And the tool.\n\n[Attachments not kept (tool.exe)")
    assert "attachments" not in entry
