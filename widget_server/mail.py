"""Email notifications: the owner hears of new tickets, the visitor hears of agent replies.

Mail is sent only after the ticket is durably stored, from a background thread, with a
timeout; a failing mail server is logged and never loses or delays a ticket. The visitor's
email carries fixed text and a link only — never free text someone typed next to that
address, so the form cannot be used to send arbitrary content to a stranger. The owner's
notification includes the subject and message as plain text.

Replies by email (`mail_reply_to`, see mailin.py for the way in): the visitor's notice of an
agent's reply then carries the agent's own words and a per-ticket Reply-To,
`support+DB-XXXX-XXXX-XXXX.<tag>@example.com`, where the tag is an HMAC of the reference
under the server's secret key, so a reference alone (printed on screens, quoted in mails)
never threads a message onto a ticket. Every message Deskbell sends carries a Message-ID of
its own shape, `<DB-…​.<entry id>@<mail domain>>`, and a visitor's notice carries
In-Reply-To and References, so mail clients thread the conversation and mailin.py knows its
own mail when it comes back.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from .i18n import mail_text, normalize
from .settings import Settings

log = logging.getLogger("deskbell.mail")
TIMEOUT_SECONDS = 10.0
REPLY_TAG_LENGTH = 16  # hex characters of HMAC-SHA256: 64 bits


def enabled(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def replies_enabled(settings: Settings) -> bool:
    """Whether visitors may answer by email (a support mailbox is set)."""
    return bool(settings.mail_reply_to)


def mail_domain(settings: Settings) -> str:
    """The domain of Deskbell's Message-IDs: the support mailbox's, else the sender's."""
    address = settings.mail_reply_to or settings.mail_from
    domain = str(address).rpartition("@")[2].strip().strip(">").lower()
    return domain if re.fullmatch(r"[a-z0-9.-]+", domain) else "deskbell.invalid"


def reply_tag(key: bytes, reference: str) -> str:
    """The tag that proves a reply address was made by this server for this ticket."""
    mac = hmac.new(key, b"deskbell-reply:" + reference.upper().encode("ascii", "replace"),
                   hashlib.sha256)
    return mac.hexdigest()[:REPLY_TAG_LENGTH]


def tag_matches(key: bytes, reference: str, tag: str) -> bool:
    return hmac.compare_digest(reply_tag(key, reference), tag.lower())


def reply_address(settings: Settings, key: bytes, reference: str) -> str:
    """support+DB-XXXX-XXXX-XXXX.<tag>@example.com for settings.mail_reply_to."""
    local, _, domain = settings.mail_reply_to.rpartition("@")
    return f"{local}+{reference}.{reply_tag(key, reference)}@{domain}"


def message_id(settings: Settings, reference: str, entry_id: str, kind: str = "") -> str:
    """<DB-XXXX-XXXX-XXXX.<entry id>[.kind]@domain>: one thread entry's mail, recognisably ours."""
    suffix = f".{kind}" if kind else ""
    return f"<{reference}.{entry_id}{suffix}@{mail_domain(settings)}>"


_OURS = re.compile(r"<?(?:DB-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}|deskbell)\.[0-9a-z.]+@([^>\s]+)>?",
                   re.IGNORECASE)


def is_ours(settings: Settings, value: str) -> bool:
    """Whether a Message-ID is one Deskbell made (its own mail come back: a loop)."""
    match = _OURS.fullmatch(value.strip())
    return match is not None and match.group(1).lower() in {mail_domain(settings),
                                                             "deskbell.invalid"}


def _base(settings: Settings, to: str, subject: str, text: str,
          msgid: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = msgid or f"<deskbell.{secrets.token_hex(12)}@{mail_domain(settings)}>"
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
    first = ticket["thread"][0]["id"] if ticket.get("thread") else secrets.token_hex(6)
    return _base(settings, settings.notify_email, f"New request {ticket['reference']}", text,
                 message_id(settings, ticket["reference"], first, "notice"))


def visitor_mail_message(settings: Settings, ticket: dict[str, Any], entry: dict[str, Any],
                         sender: str, held: bool) -> EmailMessage | None:
    """The owner's notice of a message that came by email onto a ticket: threaded as the
    visitor's, or held because `sender` is not the ticket's address. None without an owner."""
    if not settings.notify_email:
        return None
    reference = ticket["reference"]
    if held:
        head = (f"A message by email about {reference} was held: it came from {sender}, not "
                f"from the address of the request ({ticket['email']}).\n"
                "It is not shown to the visitor. Accept it as the visitor's message, or leave "
                "it, on the ticket's page.\n\n")
    else:
        head = (f"The visitor answered {reference} by email; the request is now "
                f"{ticket['status']}.\n\n")
    text = (f"{head}From: {sender}\nSubject: {ticket['subject']}\n\n{entry['body']}\n\n"
            f"Open it: {_link(settings, '/admin/tickets/' + reference)}\n")
    subject = f"{'Held message on' if held else 'Reply by email to'} {reference}"
    return _base(settings, settings.notify_email, subject, text,
                 message_id(settings, reference, entry["id"], "notice"))


def _thread_ids(settings: Settings, ticket: dict[str, Any], entry_id: str) -> list[str]:
    """The Message-IDs of the conversation before `entry_id`: our own for each message, the
    visitor's own for one that came by email."""
    ids = []
    for e in ticket["thread"]:
        if e["id"] == entry_id:
            break
        if e["author"] in {"visitor", "agent"}:
            ids.append(str(e.get("mail_id") or message_id(settings, ticket["reference"], e["id"])))
    return ids


def agent_reply_message(settings: Settings, ticket: dict[str, Any],
                        entry: dict[str, Any] | None = None,
                        key: bytes | None = None) -> EmailMessage:
    """The visitor's notice of a reply. With replies by email on (and the reply `entry` and
    the reply-address `key` given): the agent's own words, a per-ticket Reply-To and thread
    headers. Otherwise fixed text and a link. Never anything a visitor typed."""
    if replies_enabled(settings) and entry is not None and key is not None:
        return _threaded_reply(settings, ticket, entry, key)
    say = mail_text(ticket.get("locale"), settings.strings)  # in the ticket's language
    where = {"reference": ticket["reference"], "site": settings.site_name}
    text = (
        f"{say['hello']}\n\n"
        f"{say['new_reply'].format(**where)}\n\n"
        f"{say['read_it']}\n"
        f"{_link(settings, _home(settings, ticket))}\n\n"
        f"{say['why']}\n"
    )
    return _base(settings, ticket["email"], say["subject_new"].format(**where), text)


def _home(settings: Settings, ticket: dict[str, Any]) -> str:
    """The help center's front page in the ticket's language (/kb/<locale>/) when the
    knowledge base is written in it, else /kb/."""
    locale = normalize(str(ticket.get("locale") or ""))
    if not locale or locale == settings.default_locale:
        return "/kb/"
    kb = Path(settings.kb_dir)
    written = settings.locale_folders and (kb / locale).is_dir()
    return f"/kb/{locale}/" if written else "/kb/"


def _threaded_reply(settings: Settings, ticket: dict[str, Any], entry: dict[str, Any],
                    key: bytes) -> EmailMessage:
    reference = ticket["reference"]
    say = mail_text(ticket.get("locale"), settings.strings)  # in the ticket's language
    where = {"reference": reference, "site": settings.site_name}
    text = (
        f"{say['replied'].format(agent=entry['author_name'], **where)}\n\n"
        f"{entry['body']}\n\n"
        "-- \n"
        f"{say['answer']}\n"
        f"{_link(settings, _home(settings, ticket))}\n\n"
        f"{say['why']}\n"
    )
    msg = _base(settings, ticket["email"], say["subject_re"].format(**where), text,
                message_id(settings, reference, entry["id"]))
    msg["Reply-To"] = reply_address(settings, key, reference)
    earlier = _thread_ids(settings, ticket, entry["id"])
    if earlier:
        msg["In-Reply-To"] = earlier[-1]
        msg["References"] = " ".join([earlier[0], *earlier[-9:]] if len(earlier) > 10
                                     else earlier)
    return msg


def assignment_message(settings: Settings, ticket: dict[str, Any], to: str,
                       by_name: str) -> EmailMessage:
    """An agent's notice that `by_name` gave them a ticket: the reference, the subject and
    a link to the admin (never the visitor's words)."""
    reference = ticket["reference"]
    text = (f"{by_name} assigned {reference} to you at {settings.site_name}.\n\n"
            f"Subject: {ticket['subject']}\n"
            f"Status: {ticket['status']}\n\n"
            f"Open it: {_link(settings, '/admin/tickets/' + reference)}\n")
    return _base(settings, to, f"Assigned to you: {reference}", text)


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


__all__ = ["agent_reply_message", "assignment_message", "deliver", "digest_message", "enabled", "is_ours",
           "mail_domain", "message_id", "new_ticket_message", "replies_enabled", "reply_address",
           "reply_tag", "send", "tag_matches", "visitor_mail_message"]
