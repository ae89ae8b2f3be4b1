"""Email notifications: the owner hears of new tickets, the visitor hears of agent replies.

Mail is sent only after the ticket is durably stored, from a background thread, with a
timeout; a failing mail server is logged and never loses or delays a ticket. The visitor's
email carries fixed text and a link only — never free text someone typed next to that
address, so the form cannot be used to send arbitrary content to a stranger. The owner's
notification includes the subject and message as plain text.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from .settings import Settings

log = logging.getLogger("deskbell.mail")
TIMEOUT_SECONDS = 10.0


def enabled(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def _base(settings: Settings, to: str, subject: str, text: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain="deskbell.invalid")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, charset="utf-8")
    return msg


def _link(settings: Settings, path: str) -> str:
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    return f"{base}{path}"


def new_ticket_message(settings: Settings, ticket: dict[str, Any]) -> EmailMessage | None:
    """The owner's notice of a new ticket, or None when no owner address is set."""
    if not settings.notify_email:
        return None
    text = (
        f"A new request arrived at {settings.site_name}.\n\n"
        f"Reference: {ticket['reference']}\n"
        f"From: {ticket['name']} <{ticket['email']}>\n"
        f"Subject: {ticket['subject']}\n\n"
        f"{ticket['message']}\n\n"
        f"Open it: {_link(settings, '/admin/tickets/' + ticket['reference'])}\n"
    )
    return _base(settings, settings.notify_email, f"New request {ticket['reference']}", text)


def agent_reply_message(settings: Settings, ticket: dict[str, Any]) -> EmailMessage:
    """The visitor's notice of a reply: fixed text and a link, nothing they or anyone typed."""
    text = (
        "Hello,\n\n"
        f"There is a new reply to your request {ticket['reference']} at "
        f"{settings.site_name}.\n\n"
        "To read it, open the help button on our site and choose \"My requests\", or visit:\n"
        f"{_link(settings, '/kb/')}\n\n"
        "You received this because a request was opened with this address.\n"
    )
    return _base(settings, ticket["email"], f"New reply to your request {ticket['reference']}",
                 text)


def digest_message(settings: Settings, subject: str, text: str, html: str) -> EmailMessage:
    """The owner's weekly digest (insights/digest.py): a plain-text part and an HTML part,
    which its maker has escaped, to notify_email."""
    msg = _base(settings, settings.notify_email, subject, text)
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


def deliver(settings: Settings, message: EmailMessage) -> None:
    """Deliver one message now, raising OSError or smtplib.SMTPException when it cannot be:
    for a command that must say whether the mail went."""
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)


def send(settings: Settings, message: EmailMessage | None) -> bool:
    """Deliver one message; returns False (and logs) on any failure instead of raising."""
    if message is None or not enabled(settings):
        return False
    try:
        deliver(settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("could not send %r to %s: %s", message["Subject"], message["To"], exc)
        return False
    return True


__all__ = ["agent_reply_message", "deliver", "digest_message", "enabled", "new_ticket_message",
           "send"]
