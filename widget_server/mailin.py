"""Inbound mail: replies by email threaded onto tickets, new requests opened by email.

One decision, `Inbound.deliver(raw message, recipients, return path)`, whichever way the mail
came (the LMTP/SMTP listener a relay delivers to, or the IMAP poller of a hosted mailbox):

    automatic or a loop: Auto-Submitted (not "no"), Precedence bulk/junk/list, X-Autoreply,
      X-Autorespond, List-Id, an empty return path <>, a delivery report,
      a Message-ID of Deskbell's own                         ─▶ 250, ignored, never answered
    larger than mail_max_bytes, too many parts or attachments ─▶ 552
    support+DB-XXXX-XXXX-XXXX.<tag>@… (mail.reply_address):
      the tag is not the one this server made for DB-…, any other +detail,
      or no such ticket                                      ─▶ 550, never some other ticket
      the ticket is closed                                   ─▶ 550 "closed; write to support@…"
      From is the ticket's address                           ─▶ the visitor's message (a
                                                               solved ticket reopens)
      From is another address                                ─▶ held: shown to agents only,
                                                               until one accepts it
    support@… itself                                         ─▶ a new ticket (From, Subject,
                                                               text), no trail
    the ticket store cannot be written                       ─▶ 451, the relay tries again

The text of a message is its text/plain body, else its HTML body as plain text (html2text:
scripts, styles and markup never survive), with the quoted history and the signature
removed (mail-parser-reply), control characters dropped and cut to the ticket's limit.
Headers are read decoded (RFC 2047) and flattened to one line; an address is the addr-spec
the header parser found, never a display name. The owner (notify_email) is told of each
message threaded, held or opened. Nothing here ever mails the sender.

Attachments are counted and limited here (MAX_ATTACHMENTS, MAX_PARTS) and kept through the
ticket attachments store (attachments.py: type decided by the bytes, images re-encoded);
when it refuses them the text still arrives, with a note of the files not kept.
"""

from __future__ import annotations

import asyncio
import codecs
import imaplib
import logging
import re
import ssl
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from . import mail
from .attachments import Upload
from .errors import (
    Conflict,
    DeskbellError,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from .helpdesk import Helpdesk
from .tickets import CorruptStore, StoreFull, StoreUnwritable
from .tickets.validation import MESSAGE_MAX

log = logging.getLogger("deskbell.mailin")

MAX_PARTS = 100  # MIME parts of one message, containers included
MAX_ATTACHMENTS = 20
QUOTE_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pt", "sv", "da", "pl", "cs"]
_REPLY_DETAIL = re.compile(r"(DB-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\.([0-9a-f]+)", re.IGNORECASE)
_CUT = "\n[…]"
NOTE_ROOM = 700  # under MESSAGE_MAX, for the cut mark and a note of attachments not kept
T = TypeVar("T")


@dataclass
class Outcome:
    """What became of one message for one recipient, as an SMTP/LMTP reply."""

    code: int
    text: str
    action: str  # threaded, held, opened, duplicate, ignored, refused, deferred
    reference: str = ""
    notice: EmailMessage | None = field(default=None, repr=False)

    @property
    def reply(self) -> str:
        return f"{self.code} {_one_line(self.text, 400)}"


def _refused(code: int, text: str) -> Outcome:
    return Outcome(code, text, "refused")


# ---------------------------------------------------------------- reading a message


def _one_line(text: str, limit: int) -> str:
    """Printable text on one line: control characters (CR, LF, NUL…) become spaces."""
    flat = "".join(" " if unicodedata.category(c) in {"Cc", "Zl", "Zp"} else c for c in text)
    return " ".join(flat.split())[:limit]


def _multi_line(text: str) -> str:
    """Text of many lines without control characters or lone surrogates."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")


def _header(msg: Message, name: str) -> str:
    """One header, decoded, on one line ("" when absent or beyond repair)."""
    try:
        value = msg.get(name)
        return _one_line(str(value), 998) if value is not None else ""
    except Exception:  # a header the parser cannot make sense of is no header
        return ""


def _address(msg: Message, name: str) -> tuple[str, str]:
    """(display name, addr-spec) of the first address of a header; ("", "") if none."""
    try:
        header = msg.get(name)
        addresses = getattr(header, "addresses", ()) if header is not None else ()
        for address in addresses:
            spec = _one_line(str(address.addr_spec), 254)
            if "@" in spec and " " not in spec:
                return _one_line(str(address.display_name), 100), spec
    except Exception:  # the parser refuses it (a CR or LF in an encoded name): read it raw
        return _raw_address(msg, name)
    return "", ""


def _raw_address(msg: Message, name: str) -> tuple[str, str]:
    """The first address of a header the header registry refused, parsed from its raw text
    by email.utils; the display name decoded as well as it can be, on one line."""
    raw = next((str(v) for k, v in msg.raw_items() if k.lower() == name.lower()), "")
    for display, spec in getaddresses([raw]):
        spec = _one_line(spec, 254)
        if "@" in spec and " " not in spec:
            try:
                display = str(make_header(decode_header(display)))
            except Exception:  # an encoded word beyond repair: keep it encoded
                pass
            return _one_line(display, 100), spec
    return "", ""


def _decoded(part: Message) -> str:
    """A text part's body as text: its charset if Python knows it and it fits, else UTF-8,
    else Windows-1252 with replacement characters (8-bit text without a charset)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    for candidate in (charset, "utf-8"):
        try:
            return payload.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    return payload.decode("cp1252", errors="replace")


def html_to_plain(html: str) -> str:
    """HTML mail as plain text: no script, style or markup survives (html2text)."""
    import html2text

    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.unicode_snob = True
    return converter.handle(html)


def strip_quoted(text: str) -> str:
    """The newest reply of a mail body: quoted history and signature removed."""
    from mailparser_reply import EmailReplyParser

    parsed = EmailReplyParser(languages=QUOTE_LANGUAGES).read(text)
    newest = parsed.replies[0].body if parsed.replies else text
    lines = newest.splitlines()
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith(">")):
        lines.pop()  # a quote at the end with no "On … wrote:" before it
    return "\n".join(lines).strip()


@dataclass
class Parsed:
    """What Deskbell reads of one message."""

    message: Message
    message_id: str
    sender_name: str
    sender: str
    subject: str
    text: str  # the newest reply, plain
    attachments: list[Upload]  # the files it carried, for the ticket attachments store


class Unacceptable(Exception):
    """A message refused as a whole (too many parts, no text)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.text)
        self.outcome = outcome


def _body_part(msg: EmailMessage) -> Message | None:
    try:
        return msg.get_body(preferencelist=("plain", "html"))
    except Exception:  # a structure get_body cannot walk: no body
        return None


def _attachments(msg: EmailMessage) -> list[Upload]:
    found: list[Upload] = []
    try:
        parts = list(msg.iter_attachments()) if msg.is_multipart() else []
    except Exception:  # as _body_part
        parts = []
    for part in parts:
        if len(found) >= MAX_ATTACHMENTS:
            raise Unacceptable(_refused(552, f"5.3.4 more than {MAX_ATTACHMENTS} attachments"))
        data = part.get_payload(decode=True)
        name = _one_line(str(part.get_filename() or "attachment"), 200)
        found.append(Upload(name, data if isinstance(data, bytes) else b""))
    return found


def parse(raw: bytes) -> Parsed:
    """Read a raw RFC 5322 message; Unacceptable when it has too many parts."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    for count, _part in enumerate(msg.walk(), 1):
        if count > MAX_PARTS:
            raise Unacceptable(_refused(552, f"5.3.4 more than {MAX_PARTS} MIME parts"))
    part = _body_part(msg)
    text = ""
    if part is not None:
        body = _decoded(part)
        text = html_to_plain(body) if part.get_content_type() == "text/html" else body
    text = _multi_line(text)
    newest = strip_quoted(text) if text.strip() else ""
    if len(newest) > MESSAGE_MAX:
        newest = newest[:MESSAGE_MAX - NOTE_ROOM].rstrip() + _CUT
    name, sender = _address(msg, "From")
    return Parsed(msg, _header(msg, "Message-ID")[:250], name, sender.lower(),
                  _header(msg, "Subject")[:200], newest, _attachments(msg))


def automatic(msg: Message, return_path: str | None, ours: Callable[[str], bool]) -> str:
    """Why a message is automatic or a loop and must not be acted on ("" when it is not)."""
    submitted = _header(msg, "Auto-Submitted").lower()
    if submitted and submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {submitted[:40]}"
    precedence = _header(msg, "Precedence").lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "List-Id"):
        if msg.get(name) is not None:
            return f"{name} header"
    if return_path is not None and return_path.strip().strip("<>").strip() == "":
        return "empty return path (a bounce)"
    if msg.get_content_type() == "multipart/report":
        return "a delivery report"
    message_id = _header(msg, "Message-ID")
    if message_id and ours(message_id):
        return "a message Deskbell sent (loop)"
    return ""


# ---------------------------------------------------------------- deciding


@dataclass(frozen=True)
class Recipient:
    kind: str  # "support" (the bare address), "reply" (a valid reply address), "refused"
    reference: str = ""
    problem: str = ""


class Inbound:
    """The decision and its acts, over one Helpdesk (which knows the settings and the key)."""

    def __init__(self, helpdesk: Helpdesk) -> None:
        self.helpdesk = helpdesk
        self.settings = helpdesk.settings
        self.support = str(self.settings.mail_reply_to)
        if not self.support:
            raise DeskbellError("set mail_reply_to (the support address) to receive email")
        self.local = self.support.rpartition("@")[0].lower()

    def recipient(self, address: str) -> Recipient:
        """What an envelope recipient is to us (checked at RCPT, before any data)."""
        spec = _one_line(address, 320).strip("<>").strip()
        local = spec.rpartition("@")[0]
        base, plus, detail = local.partition("+")
        shown = spec[:80]
        if base.lower() != self.local:
            return Recipient("refused", problem=f"550 5.1.1 <{shown}>: no such mailbox here")
        if not plus:
            return Recipient("support")
        match = _REPLY_DETAIL.fullmatch(detail)
        if match is None or not mail.tag_matches(self.helpdesk.reply_key, match.group(1),
                                                 match.group(2)):
            return Recipient("refused", problem=(
                f"550 5.1.1 <{shown}>: this reply address was not made by this help desk or "
                f"was changed; please write to {self.support} instead"))
        return Recipient("reply", reference=match.group(1).upper())

    def deliver(self, raw: bytes, recipients: Iterable[str],
                return_path: str | None = None) -> list[Outcome]:
        """One Outcome per recipient, in order (LMTP answers each)."""
        targets = [self.recipient(r) for r in recipients]
        if len(raw) > self.settings.mail_max_bytes:
            return [_refused(552, f"5.3.4 message larger than {self.settings.mail_max_bytes} "
                                  "bytes") for _ in targets]
        try:
            parsed = parse(raw)
        except Unacceptable as exc:
            return [exc.outcome for _ in targets]
        except Exception:  # the parser gave up on it: say so, never crash the listener
            log.exception("unreadable message")
            return [_refused(550, "5.6.0 the message could not be read") for _ in targets]
        why = automatic(parsed.message, return_path, lambda v: mail.is_ours(self.settings, v))
        if why:
            log.info("ignored %s: %s", parsed.message_id or "a message", why)
            return [Outcome(250, f"2.0.0 automatic message ignored ({why})", "ignored")
                    for _ in targets]
        outcomes: list[Outcome] = []
        threaded = False
        for target in targets:  # replies first: a copy to support@ beside a reply is no request
            if target.kind == "reply":
                outcomes.append(self._act(lambda t=target: self._thread(parsed, t.reference)))
                threaded = threaded or outcomes[-1].code < 300
            else:
                outcomes.append(Outcome(0, "", ""))
        for i, target in enumerate(targets):
            if target.kind == "refused":
                code, _, text = target.problem.partition(" ")
                outcomes[i] = _refused(int(code), text)
            elif target.kind == "support":
                outcomes[i] = (Outcome(250, "2.0.0 delivered with the reply", "duplicate")
                               if threaded else self._act(lambda: self._open(parsed)))
        return outcomes

    def _act(self, act: Any) -> Outcome:
        try:
            outcome: Outcome = act()
        except (StoreFull, StoreUnwritable, CorruptStore) as exc:
            log.error("ticket store: %s", exc.message)
            return Outcome(451, "4.3.0 tickets cannot be saved right now; try again later",
                           "deferred")
        except Unacceptable as exc:
            return exc.outcome
        log.info("%s %s: %s", outcome.action, outcome.reference or "-", outcome.text)
        return outcome

    def _thread(self, parsed: Parsed, reference: str) -> Outcome:
        ticket = self.helpdesk.store.get(reference)
        if ticket is None:
            return _refused(550, f"5.1.1 no request {reference} here; please write to "
                                 f"{self.support} to open a new one")
        if not parsed.text and not parsed.attachments:
            return _refused(550, "5.6.0 the message has no text of its own (only quoted text)")
        held = parsed.sender != str(ticket["email"]).lower()
        sender = f"{parsed.sender_name} <{parsed.sender}>" if parsed.sender_name else (
            parsed.sender or "unknown sender")
        try:
            replied = _with_files(parsed, lambda text, files: self.helpdesk.mailed_reply(
                reference, text, sender[:200], parsed.message_id, held=held, files=files))
        except Conflict:
            return _refused(550, f"5.7.1 request {reference} is closed; please write to "
                                 f"{self.support} to open a new one")
        except NotFound:
            return _refused(550, f"5.1.1 no request {reference} here")
        except ValidationFailed as exc:
            return _refused(550, f"5.6.0 {exc.message}")
        if not _is_fresh(replied):
            return Outcome(250, f"2.0.0 already added to {reference}", "duplicate", reference)
        if held:
            return Outcome(250, f"2.0.0 held for an agent: the sender is not the address of "
                                f"{reference}", "held", reference, replied.notice)
        return Outcome(250, f"2.0.0 added to {reference}", "threaded", reference,
                       replied.notice)

    def _open(self, parsed: Parsed) -> Outcome:
        if not parsed.sender:
            return _refused(550, "5.1.7 the message has no usable From address")
        name = parsed.sender_name or parsed.sender.partition("@")[0]
        try:
            opened = _with_files(parsed, lambda text, files: self.helpdesk.open_mailed_ticket(
                name[:100] or "?", parsed.sender, parsed.subject or "(no subject)", text,
                parsed.message_id, files))
        except ValidationFailed as exc:
            return _refused(550, f"5.6.0 {exc.message}")
        return Outcome(250, f"2.0.0 opened {opened.reference}", "opened", opened.reference,
                       opened.notice)

    def notify(self, outcomes: Iterable[Outcome]) -> None:
        """Send the owner's notices of what was done (blocking; logs failures)."""
        for outcome in outcomes:
            if outcome.notice is not None:
                self.helpdesk.notify(outcome.notice)

    def mailbox_recipient(self, msg: Message) -> str:
        """For a message read from the support mailbox (IMAP): the address it was sent to,
        from Delivered-To, X-Original-To, To or Cc; the support address when none is ours."""
        for name in ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc"):
            try:
                values = msg.get_all(name) or []
                for value in values:
                    for address in getattr(value, "addresses", ()):
                        spec = str(address.addr_spec)
                        if spec.rpartition("@")[0].partition("+")[0].lower() == self.local:
                            return spec
            except Exception:  # as _header
                continue
        return self.support


def _with_files(parsed: Parsed, act: Callable[[str, list[Upload]], T]) -> T:
    """Act with the message's attachments, kept by the ticket attachments store; when it
    refuses them (a type it does not keep, a limit), act without them and say so in the
    text, so the words still arrive."""
    text = parsed.text or ("(attachments only)" if parsed.attachments else "(no text)")
    if not parsed.attachments:
        return act(text, [])
    try:
        return act(text, parsed.attachments)
    except (UnsupportedMediaType, PayloadTooLarge, ValidationFailed) as exc:
        names = ", ".join(a.name for a in parsed.attachments)[:300]
        return act(f"{text}\n\n[Attachments not kept ({names}): {_one_line(exc.message, 300)}]",
                   [])


def _is_fresh(replied: Any) -> bool:
    """Whether mailed_reply stored a new entry (its last) rather than finding one."""
    return bool(replied.ticket["thread"]) and replied.ticket["thread"][-1]["id"] == \
        replied.entry["id"]


# ---------------------------------------------------------------- LMTP / SMTP listener


class _Handler:
    def __init__(self, inbound: Inbound, lmtp: bool) -> None:
        self.inbound = inbound
        self.lmtp = lmtp

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        target = self.inbound.recipient(address)
        if target.kind == "refused":
            return target.problem
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        loop = asyncio.get_running_loop()
        outcomes = await loop.run_in_executor(None, self.inbound.deliver, raw,
                                              list(envelope.rcpt_tos), envelope.mail_from)
        loop.run_in_executor(None, self.inbound.notify, outcomes)  # after the answer is out
        if self.lmtp:  # one reply per recipient
            return "\r\n".join(o.reply for o in outcomes)
        worst = max(outcomes, key=lambda o: (o.code >= 500, o.code >= 400))
        return worst.reply if worst.code >= 400 else "250 2.0.0 OK"


class MailListener(Controller):
    """An LMTP (or SMTP) server on host:port in a thread of its own: start(), stop()."""

    def __init__(self, inbound: Inbound, host: str, port: int, smtp: bool = False) -> None:
        self.smtp = smtp
        super().__init__(_Handler(inbound, lmtp=not smtp), hostname=host, port=port,
                         data_size_limit=inbound.settings.mail_max_bytes,
                         ident="Deskbell mail-in", decode_data=False)

    def factory(self) -> SMTP:
        kind = SMTP if self.smtp else LMTP
        return kind(self.handler, **self.SMTP_kwargs)


# ---------------------------------------------------------------- IMAP poller


@dataclass(frozen=True)
class ImapSource:
    """Where to poll: imaps://user[:password]@host[:port]/MAILBOX (imap:// is plain text)."""

    secure: bool
    host: str
    port: int
    user: str
    password: str
    mailbox: str

    @classmethod
    def parse(cls, url: str, password: str = "") -> ImapSource:
        """Read the URL; ValueError with a one-line reason. The password in the URL wins over
        `password` (the mail_imap_password setting)."""
        parts = urlsplit(url)
        if parts.scheme not in {"imap", "imaps"}:
            raise ValueError("expected an imaps:// (or imap://) URL like "
                             "imaps://support%40example.com@imap.example.com/INBOX")
        if not parts.hostname:
            raise ValueError("the IMAP URL names no host")
        if not parts.username:
            raise ValueError("the IMAP URL names no user (imaps://USER@host/INBOX; "
                             "write @ in the user as %40)")
        try:
            port = parts.port or (993 if parts.scheme == "imaps" else 143)
        except ValueError:
            raise ValueError("the IMAP URL's port is not a number from 1 to 65535") from None
        secret = unquote(parts.password) if parts.password is not None else password
        if not secret:
            raise ValueError("no IMAP password: put it in the URL or set mail_imap_password "
                             "(DESKBELL_MAIL_IMAP_PASSWORD)")
        mailbox = unquote(parts.path.lstrip("/")) or "INBOX"
        return cls(parts.scheme == "imaps", parts.hostname, port, unquote(parts.username),
                   secret, mailbox)


@dataclass
class PollReport:
    """What one poll did, counted by action."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, action: str) -> None:
        self.counts[action] = self.counts.get(action, 0) + 1

    def __str__(self) -> str:
        done = ", ".join(f"{n} {a}" for a, n in sorted(self.counts.items()))
        return done or "no new messages"


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(answer: tuple[str, Any], doing: str) -> Any:
    kind, data = answer
    if kind != "OK":
        detail = data[0].decode("utf-8", "replace") if data and isinstance(data[0], bytes) else ""
        raise DeskbellError(f"IMAP {doing} failed: {_one_line(detail, 200)}")
    return data


def poll_imap(inbound: Inbound, source: ImapSource, timeout: float = 30.0) -> PollReport:
    """Process every unseen, unflagged message of the mailbox once: done or ignored ones are
    marked seen, refused ones flagged (left unseen for a person), deferred ones left as they
    were for the next poll. DeskbellError when the server cannot be used."""
    report = PollReport()
    try:
        conn: imaplib.IMAP4 = (
            imaplib.IMAP4_SSL(source.host, source.port, timeout=timeout,
                              ssl_context=ssl.create_default_context())
            if source.secure else imaplib.IMAP4(source.host, source.port, timeout=timeout))
    except (OSError, imaplib.IMAP4.error) as exc:
        raise DeskbellError(f"cannot reach IMAP server {source.host}:{source.port}: "
                            f"{exc}") from None
    try:
        try:
            conn.login(source.user, source.password)
        except imaplib.IMAP4.error as exc:
            raise DeskbellError(f"IMAP login as {source.user} failed: {exc}") from None
        _ok(conn.select(_quoted(source.mailbox)), f"select {source.mailbox}")
        uids = _ok(conn.uid("SEARCH", "UNSEEN", "UNFLAGGED"), "search")[0].split()
        for uid in (u.decode("ascii") for u in uids):
            report.add(_poll_one(inbound, conn, uid))
    except (OSError, imaplib.IMAP4.error) as exc:
        raise DeskbellError(f"IMAP server {source.host}: {exc}") from None
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
    return report


def _poll_one(inbound: Inbound, conn: imaplib.IMAP4, uid: str) -> str:
    sized = _ok(conn.uid("FETCH", uid, "(RFC822.SIZE)"), "fetch")
    match = re.search(rb"RFC822\.SIZE (\d+)", sized[0] if isinstance(sized[0], bytes) else b"")
    size = int(match.group(1)) if match else 0
    if size > inbound.settings.mail_max_bytes:
        log.warning("IMAP message %s refused: %d bytes", uid, size)
        _ok(conn.uid("STORE", uid, "+FLAGS", "(\\Flagged)"), "store")
        return "refused"
    fetched = _ok(conn.uid("FETCH", uid, "(BODY.PEEK[])"), "fetch")
    raw = next((item[1] for item in fetched if isinstance(item, tuple)), b"")
    head = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    return_path = _header(head, "Return-Path") if head.get("Return-Path") is not None else None
    [outcome] = inbound.deliver(raw, [inbound.mailbox_recipient(head)], return_path)
    if outcome.code < 300:
        _ok(conn.uid("STORE", uid, "+FLAGS", "(\\Seen)"), "store")
    elif outcome.code >= 500:
        log.warning("IMAP message %s refused: %s", uid, outcome.reply)
        _ok(conn.uid("STORE", uid, "+FLAGS", "(\\Flagged)"), "store")
    inbound.notify([outcome])
    return outcome.action


def poll_forever(inbound: Inbound, source: ImapSource, interval: float,
                 stop: threading.Event) -> None:
    """Poll every `interval` seconds until `stop` is set; a failed poll is logged, not fatal."""
    while not stop.is_set():
        try:
            log.info("IMAP poll: %s", poll_imap(inbound, source))
        except DeskbellError as exc:
            log.error("%s", exc.message)
        stop.wait(interval)


__all__ = ["ImapSource", "Inbound", "MailListener", "Outcome", "PollReport", "automatic",
           "html_to_plain", "parse", "poll_forever", "poll_imap", "strip_quoted"]
