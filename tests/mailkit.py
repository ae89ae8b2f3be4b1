"""Real mail servers for the email tests: an SMTP sink (aiosmtpd), Deskbell's LMTP listener
driven by smtplib.LMTP, and a Dovecot IMAP server of the test's own in a temp dir."""

from __future__ import annotations

import email
import grp
import imaplib
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.policy import default as default_policy
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from widget_server.helpdesk import Helpdesk
from widget_server.mailin import Inbound, MailListener
from widget_server.settings import Settings
from widget_server.tickets import open_ticket_store

from .conftest import free_port, unavailable

SUPPORT = "support@example.com"
VISITOR = {"name": "Ada Lovelace", "email": "ada@example.com", "subject": "Invoice missing",
           "message": "I cannot find my invoice for March.", "elapsed_ms": 5000}


class Inbox:
    """What the SMTP sink received: (envelope recipients, message) in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(
            envelope.content, policy=default_policy)))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for rcpt, m in self.messages if address in rcpt]

    def wait_for(self, address: str, count: int = 1, seconds: float = 5.0) -> list[Message]:
        """Notices are sent after the answer is out, on another thread: wait for them."""
        deadline = time.monotonic() + seconds
        while len(self.to(address)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.to(address)


@contextmanager
def smtp_sink() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def text_of(message: Message) -> str:
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def reply_to(notice: Message, text: str, sender: str = "Ada Lovelace <ada@example.com>",
             **headers: str) -> bytes:
    """The visitor's answer to `notice` as a mail client writes it: To the Reply-To, the
    thread headers, and the notice quoted under an "On … wrote:" line."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(notice["Reply-To"])
    msg["Subject"] = f"Re: {notice['Subject']}"
    msg["Date"] = formatdate()
    msg["Message-ID"] = make_msgid(domain="mail.example.net")
    msg["In-Reply-To"] = str(notice["Message-ID"])
    msg["References"] = f"{notice.get('References', '')} {notice['Message-ID']}".strip()
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    quoted = "\n".join("> " + line for line in text_of(notice).splitlines())
    msg.set_content(f"{text}\n\nOn {notice['Date']}, {notice['From']} wrote:\n{quoted}\n")
    return wire(msg)


def wire(msg: EmailMessage) -> bytes:
    """A message as it travels: CRLF line ends."""
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def new_mail(text: str, subject: str = "Where is my parcel?", to: str = SUPPORT,
             sender: str = "Grace Hopper <grace@example.org>", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate()
    msg["Message-ID"] = make_msgid(domain="mail.example.org")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(text)
    return wire(msg)


@contextmanager
def lmtp_listener(settings: Settings, smtp: bool = False) -> Iterator[tuple[Helpdesk, int]]:
    """`deskbell mail-in --listen` in this process, over its own store (as a separate process
    over the same data_dir would be): yields its helpdesk and port."""
    store = open_ticket_store(settings)
    helpdesk = Helpdesk(store, settings)
    listener = MailListener(Inbound(helpdesk), "127.0.0.1", free_port(), smtp=smtp)
    listener.start()
    try:
        yield helpdesk, int(listener.port)
    finally:
        listener.stop()
        store.close()


def deliver(port: int, raw: bytes, to: str | list[str], mail_from: str = "ada@example.com"
            ) -> dict[str, tuple[int, bytes]]:
    """Deliver over LMTP; the refused recipients (smtplib raises when all are refused)."""
    with smtplib.LMTP("127.0.0.1", port, timeout=10) as lmtp:
        return lmtp.sendmail(mail_from, to, raw)


def lmtp_session(port: int, raw: bytes, recipients: list[str],
                 mail_from: str = "ada@example.com") -> list[tuple[int, str]]:
    """One LMTP transaction by hand, reading one reply per recipient after the data."""
    with smtplib.LMTP("127.0.0.1", port, timeout=10) as lmtp:
        lmtp.ehlo()
        assert lmtp.mail(mail_from)[0] == 250
        for rcpt in recipients:
            assert lmtp.rcpt(rcpt)[0] == 250
        assert lmtp.putcmd("data") is None and lmtp.getreply()[0] == 354
        data = re.sub(rb"(?m)^\.", b"..", re.sub(rb"(?<!\r)\n", b"\r\n", raw))
        lmtp.send(data + (b"" if data.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        return [(code, text.decode()) for code, text in
                (lmtp.getreply() for _ in recipients)]


# ---------------------------------------------------------------- Dovecot


@dataclass
class Dovecot:
    port: int
    user: str
    password: str
    log: Path

    def client(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(self.user, self.password)
        return conn

    def new_mailbox(self) -> str:
        name = f"t{time.monotonic_ns()}"
        conn = self.client()
        assert conn.create(name)[0] == "OK"
        conn.logout()
        return name

    def append(self, mailbox: str, raw: bytes) -> None:
        conn = self.client()
        assert conn.append(mailbox, None, None, raw)[0] == "OK"
        conn.logout()

    def flags(self, mailbox: str) -> list[str]:
        """Each message's flags, in order."""
        conn = self.client()
        conn.select(mailbox)
        kind, data = conn.fetch("1:*", "(FLAGS)")
        conn.logout()
        return [item.decode() for item in data if isinstance(item, bytes)]

    def url(self, mailbox: str) -> str:
        return f"imap://{self.user}@127.0.0.1:{self.port}/{mailbox}"


DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = 0
mail_location = maildir:{dir}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
"""


def _accounts() -> tuple[str, str, str, int, int]:
    """(internal user, its group, login user, mail uid, mail gid). As root, Dovecot's login
    processes and mail access must not be root: Debian's dovenull and nobody."""
    if os.getuid() != 0:
        me = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        return me, group, me, os.getuid(), os.getgid()
    login = "dovenull" if _user_exists("dovenull") else "nobody"
    nobody = pwd.getpwnam("nobody")
    return "root", "root", login, nobody.pw_uid, nobody.pw_gid


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextmanager
def dovecot_server() -> Iterator[Dovecot]:
    """A real Dovecot on a loopback port, configured and kept in a temp dir of its own (never
    /etc/dovecot), with one passwd-file user and a maildir; stopped and removed after."""
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot"
                                         if Path("/usr/sbin/dovecot").exists() else None)
    if binary is None:
        unavailable("Dovecot is not installed (apt-get install dovecot-imapd)")
    assert binary is not None
    # Not under pytest's tmp_path: the login processes (another user) must reach base_dir.
    root = Path(tempfile.mkdtemp(prefix="deskbell-dovecot-"))
    root.chmod(0o755)
    internal, internal_group, login, uid, gid = _accounts()
    (root / "mail").mkdir()
    os.chown(root / "mail", uid, gid)
    password = "imap-secret"
    (root / "passwd").write_text(f"support:{{PLAIN}}{password}:{uid}:{gid}::{root}/mail/support\n")
    port = free_port()
    (root / "dovecot.conf").write_text(DOVECOT_CONF.format(
        dir=root, internal=internal, internal_group=internal_group, login=login, port=port))
    process = subprocess.Popen([binary, "-F", "-c", str(root / "dovecot.conf")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    server = Dovecot(port, "support", password, root / "dovecot.log")
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                server.client().logout()
                break
            except (OSError, imaplib.IMAP4.error):
                if process.poll() is not None or time.monotonic() > deadline:
                    log = server.log.read_text() if server.log.exists() else ""
                    raise RuntimeError(f"Dovecot did not start: {log[-2000:]}") from None
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
