"""Notifications over real SMTP (aiosmtpd on loopback): who gets what, and failures lose nothing."""

from __future__ import annotations

import email
import logging
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from starlette.testclient import TestClient

from widget_server.app import create_app

from .conftest import free_port
from .test_admin import HOSTILE, PASSWORD, csrf_of, log_in


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


@pytest.fixture
def client(make_settings, smtp) -> Iterator[TestClient]:
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=smtp[1],
                             notify_email="owner@example.com", admin_password=PASSWORD,
                             public_url="https://help.example.com")
    with TestClient(create_app(settings), follow_redirects=False) as test_client:
        yield test_client


def test_the_owner_hears_of_a_new_ticket(client: TestClient, smtp) -> None:
    inbox, _ = smtp
    reference = client.post("/api/v1/tickets", json=HOSTILE).json()["reference"]
    [(to, message)] = inbox.messages
    assert to == ["owner@example.com"]
    assert message["Subject"] == f"New request {reference}"
    assert message.get_content_type() == "text/plain"
    text = body_of(message)
    assert HOSTILE["subject"] in text and "</textarea><svg" in text
    assert f"https://help.example.com/admin/tickets/{reference}" in text


def test_the_visitor_hears_of_a_reply_with_fixed_text_only(client: TestClient, smtp) -> None:
    inbox, _ = smtp
    reference = client.post("/api/v1/tickets", json=HOSTILE).json()["reference"]
    log_in(client)
    token = csrf_of(client.get(f"/admin/tickets/{reference}").text)
    client.post(f"/admin/tickets/{reference}/reply",
                data={"csrf": token, "body": "Agent text", "status": "pending"})
    to, message = inbox.messages[-1]
    assert to == ["x@example.com"]
    text = body_of(message)
    assert reference in text and "https://help.example.com/kb/" in text
    for typed in (HOSTILE["name"], HOSTILE["subject"], HOSTILE["message"], "Agent text"):
        assert typed not in text and typed not in str(message["Subject"])


def test_a_dead_mail_server_loses_no_ticket(make_settings, caplog) -> None:
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=free_port(),
                             notify_email="owner@example.com")
    caplog.set_level(logging.WARNING, logger="deskbell.mail")
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/v1/tickets", json=HOSTILE)
        assert response.status_code == 201
        assert len(list(client.app.state.services.tickets.iter_tickets())) == 1  # type: ignore[attr-defined]
    assert "could not send" in caplog.text


def test_a_reply_from_the_command_line_emails_the_visitor_like_one_from_the_admin(
        client: TestClient, smtp) -> None:
    from click.testing import CliRunner

    from cli.main import main

    inbox, port = smtp
    reference = client.post("/api/v1/tickets", json=HOSTILE).json()["reference"]
    log_in(client)
    token = csrf_of(client.get(f"/admin/tickets/{reference}").text)
    client.post(f"/admin/tickets/{reference}/reply", data={"csrf": token, "body": "From admin"})
    settings = client.app.state.services.settings  # type: ignore[attr-defined]
    result = CliRunner().invoke(main, [
        "tickets", "reply", reference, "From the terminal", "--data-dir", str(settings.data_dir)],
        env={"DESKBELL_SMTP_HOST": "127.0.0.1", "DESKBELL_SMTP_PORT": str(port),
             "DESKBELL_PUBLIC_URL": "https://help.example.com"})
    assert result.exit_code == 0, result.output
    (admin_to, from_admin), (cli_to, from_cli) = inbox.messages[-2:]
    assert admin_to == cli_to == ["x@example.com"]
    assert from_admin["Subject"] == from_cli["Subject"]
    assert body_of(from_admin) == body_of(from_cli)
    ticket = client.app.state.services.tickets.get(reference)  # type: ignore[attr-defined]
    assert [e["author_name"] for e in ticket["thread"][1:]] == ["Help Center"] * 2
