"""`deskbell mail-in`: replies and new requests by email, from a relay (LMTP) or a mailbox (IMAP).

Thin over widget_server.mailin, which decides what each message means.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading
from types import FrameType

import click

from widget_server.errors import DeskbellError
from widget_server.helpdesk import Helpdesk
from widget_server.mailin import ImapSource, Inbound, MailListener, poll_forever, poll_imap
from widget_server.settings import Settings
from widget_server.tickets.factory import open_event_store

from .options import settings_options
from .tickets import open_store


def _listen_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise click.UsageError(f"--listen {value!r}: expected HOST:PORT, like 127.0.0.1:2525")
    return host, int(port)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _stopper() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM (a service manager stopping the command)."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


@click.command(name="mail-in")
@click.option("--listen", metavar="HOST:PORT", default=None,
              help="Run an LMTP server here for a mail relay (Postfix, Exim) to deliver to.")
@click.option("--smtp", is_flag=True, help="With --listen: speak SMTP instead of LMTP.")
@click.option("--imap", "imap_url", metavar="URL", default=None,
              help="Poll this mailbox: imaps://USER@HOST[:PORT]/MAILBOX (imap:// for plain "
                   "text); the password from the URL or mail_imap_password.")
@click.option("--once", is_flag=True, help="With --imap: poll once and exit (for cron).")
@click.option("--interval", type=click.IntRange(5, 86400), default=60, show_default=True,
              help="With --imap: seconds between polls.")
@settings_options
def mail_in(settings: Settings, listen: str | None, smtp: bool, imap_url: str | None,
            once: bool, interval: int) -> None:
    """Thread email replies onto tickets and open tickets from new email.

    Replies to a ticket's reply address (support+DB-XXXX-XXXX-XXXX.<tag>@example.com, on
    every reply an agent sends when mail_reply_to is set) are added to that ticket as the
    visitor's message; new email to mail_reply_to opens a ticket. Automatic mail (out of
    office, bounces, lists) is ignored; anything else is refused with its reason.

    \b
    Example:
        deskbell mail-in --listen 127.0.0.1:2525      # Postfix: lmtp:inet:127.0.0.1:2525
        deskbell mail-in --imap imaps://support%40example.com@imap.example.com/INBOX --once
    """
    if bool(listen) == bool(imap_url):
        raise click.UsageError("give exactly one of --listen HOST:PORT or --imap URL")
    if smtp and not listen:
        raise click.UsageError("--smtp goes with --listen")
    if once and not imap_url:
        raise click.UsageError("--once goes with --imap")
    address = _listen_address(listen) if listen else None
    source = None
    if imap_url:
        try:
            source = ImapSource.parse(imap_url, settings.mail_imap_password)
        except ValueError as exc:
            raise click.UsageError(f"--imap: {exc}") from None
    if not settings.mail_reply_to:
        raise click.UsageError("set mail_reply_to (the support address, e.g. "
                               "DESKBELL_MAIL_REPLY_TO=support@example.com) first")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    store = open_store(settings)
    try:
        inbound = Inbound(Helpdesk(store, settings, open_event_store(settings)))
        if source is not None:
            _run_imap(inbound, source, once, interval)
        elif address is not None:
            _run_listener(inbound, address, smtp)
    finally:
        store.close()


def _run_imap(inbound: Inbound, source: ImapSource, once: bool, interval: int) -> None:
    if once:
        try:
            report = poll_imap(inbound, source)
        except DeskbellError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"{source.host}/{source.mailbox}: {report}")
        return
    click.echo(f"polling {source.host}/{source.mailbox} every {interval} s (Ctrl-C stops)",
               err=True)
    poll_forever(inbound, source, interval, _stopper())


def _run_listener(inbound: Inbound, address: tuple[str, int], smtp: bool) -> None:
    host, port = address
    if not _loopback(host):
        click.echo(f"warning: {host} is not a loopback address; anyone who can reach it can "
                   "deliver mail, so let only your relay reach it", err=True)
    listener = MailListener(inbound, host, port, smtp=smtp)
    try:
        listener.start()
    except (OSError, RuntimeError) as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    click.echo(f"{'SMTP' if smtp else 'LMTP'} on {host}:{port} for "
               f"{inbound.support} (Ctrl-C stops)", err=True)
    try:
        _stopper().wait()
    finally:
        listener.stop()


COMMANDS = [mail_in]
