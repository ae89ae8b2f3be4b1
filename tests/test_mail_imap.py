"""`deskbell mail-in --imap` against a real Dovecot in a temp dir: the visitor's answer put in
the support mailbox with IMAP APPEND lands on its ticket; each message is acted on once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from cli.main import main
from widget_server.app import create_app

from .mailkit import SUPPORT, Dovecot, dovecot_server, new_mail, reply_to, smtp_sink
from .test_admin import PASSWORD, log_in
from .test_mailin import agent_reply, open_ticket, stored, visitor_view


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with dovecot_server() as server:
        yield server


@pytest.fixture
def loop(make_settings, dovecot):
    """The app (HTTP API and admin), its SMTP sink and a fresh mailbox of the IMAP server."""
    with smtp_sink() as (inbox, port):
        settings = make_settings(smtp_host="127.0.0.1", smtp_port=port,
                                 notify_email="owner@example.com", admin_password=PASSWORD,
                                 mail_reply_to=SUPPORT)
        with TestClient(create_app(settings), follow_redirects=False) as app:
            log_in(app)
            yield app, inbox, settings, dovecot.new_mailbox()


def poll(settings, dovecot: Dovecot, mailbox: str, *extra: str) -> Result:
    return CliRunner().invoke(main, [
        "mail-in", "--imap", dovecot.url(mailbox), "--once",
        "--data-dir", str(settings.data_dir), *extra],
        env={"DESKBELL_MAIL_REPLY_TO": SUPPORT, "DESKBELL_MAIL_IMAP_PASSWORD": dovecot.password,
             "DESKBELL_MAIL_MAX_BYTES": str(settings.mail_max_bytes)})


def test_a_reply_in_the_mailbox_lands_on_its_ticket_once(loop, dovecot) -> None:
    app, inbox, settings, mailbox = loop
    reference, token = open_ticket(app)
    notice = agent_reply(app, inbox, reference, "Please restart the router.")
    dovecot.append(mailbox, reply_to(notice, "Restarted, it works!"))

    result = poll(settings, dovecot, mailbox)
    assert result.exit_code == 0, result.output
    assert "1 threaded" in result.output
    shown = visitor_view(app, reference, token)
    assert shown["thread"][-1]["body"] == "Restarted, it works!"
    assert shown["status"] == "open"
    [flags] = dovecot.flags(mailbox)
    assert "\\Seen" in flags and "\\Flagged" not in flags

    again = poll(settings, dovecot, mailbox)  # seen: never processed twice
    assert again.exit_code == 0 and "no new messages" in again.output
    assert [e["body"] for e in stored(app, reference)["thread"]].count("Restarted, it works!") == 1


def test_refused_mail_is_flagged_and_left_unread_ignored_mail_is_read(loop, dovecot) -> None:
    app, inbox, settings, mailbox = loop
    reference, _ = open_ticket(app)
    notice = agent_reply(app, inbox, reference, "Anything else?")
    forged = str(notice["Reply-To"]).replace(".", ".f", 1)
    dovecot.append(mailbox, new_mail("Attach me to that ticket", to=forged))
    dovecot.append(mailbox, reply_to(notice, "Out of office", Auto_Submitted="auto-replied"))
    dovecot.append(mailbox, new_mail("A new question", subject="Opening hours?"))

    result = poll(settings, dovecot, mailbox)
    assert result.exit_code == 0, result.output
    assert "1 ignored, 1 opened, 1 refused" in result.output
    refused, ignored, opened = dovecot.flags(mailbox)
    assert "\\Flagged" in refused and "\\Seen" not in refused
    assert "\\Seen" in ignored and "\\Seen" in opened
    assert stored(app, reference)["thread"][-1]["body"] == "Anything else?"
    subjects = {t["subject"] for t in app.app.state.services.tickets.iter_tickets()}  # type: ignore[attr-defined]
    assert subjects == {"Invoice missing", "Opening hours?"}
    assert "no new messages" in poll(settings, dovecot, mailbox).output


def test_a_message_over_the_size_limit_is_flagged_without_being_fetched(loop, dovecot) -> None:
    app, _, settings, mailbox = loop
    dovecot.append(mailbox, new_mail("x" * 40000))
    result = poll(settings.replace(mail_max_bytes=20000), dovecot, mailbox)
    assert result.exit_code == 0 and "1 refused" in result.output
    assert "\\Flagged" in dovecot.flags(mailbox)[0]
    assert app.app.state.services.tickets.count() == 0  # type: ignore[attr-defined]


def test_a_wrong_password_is_one_line_and_exit_1(loop, dovecot) -> None:
    _, _, settings, mailbox = loop
    url = dovecot.url(mailbox).replace("imap://support@", "imap://support:wrong@")
    result = CliRunner().invoke(main, ["mail-in", "--imap", url, "--once", "--data-dir",
                                       str(settings.data_dir)],
                                env={"DESKBELL_MAIL_REPLY_TO": SUPPORT})
    assert result.exit_code == 1
    assert "IMAP login as support failed" in result.output
    assert "Traceback" not in result.output
