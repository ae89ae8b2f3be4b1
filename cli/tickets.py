"""`deskbell tickets …` and `deskbell export tickets`: the ticket store from the terminal.

Thin over widget_server.helpdesk, so a reply from here does what a reply from the admin
does. Safe to run while the server runs: the JSON store locks across processes.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click

from widget_server.durable import replacing
from widget_server.errors import DeskbellError
from widget_server.helpdesk import Helpdesk
from widget_server.settings import Settings
from widget_server.tickets import STATUSES, Ticket, TicketStore, open_ticket_store
from widget_server.tickets.canonical import canonical

from .agents import record as audit
from .options import settings_options

CSV_COLUMNS = [
    "reference", "status", "created_at", "updated_at", "first_reply_at", "solved_at",
    "closed_at", "name", "email", "subject", "message", "page_url", "category", "locale",
    "resolution_count", "replies", "csat", "ces",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def open_store(settings: Settings) -> TicketStore:
    try:
        return open_ticket_store(settings)
    except DeskbellError as exc:
        raise click.ClickException(exc.message) from None


def open_helpdesk(settings: Settings) -> Helpdesk:
    return Helpdesk(open_store(settings), settings)


@contextmanager
def store_errors() -> Iterator[None]:
    """Typed store errors (not found, disk full, corrupt file) become one clear line."""
    try:
        yield
    except DeskbellError as exc:
        raise click.ClickException(exc.message) from None


def _status_choice() -> click.Choice:
    return click.Choice(STATUSES)


@click.group()
def tickets() -> None:
    """List, read and answer tickets.

    \b
    Example:
        deskbell tickets list --status new
        deskbell tickets reply DB-7K3Q-M9XP-2W4H "It is fixed now." --status solved
    """


@tickets.command(name="list")
@click.option("--status", type=_status_choice(), default=None, help="Only this status.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@settings_options
def list_command(settings: Settings, status: str | None, fmt: str) -> None:
    """List tickets, oldest first.

    \b
    Example:
        deskbell tickets list --status open --format json | jq '.[].reference'
    """
    with store_errors():
        found = [t for t in open_store(settings).iter_tickets()
                 if status is None or t["status"] == status]
    if fmt == "json":
        click.echo(json.dumps([public(t) for t in found], ensure_ascii=False, indent=2))
        return
    for t in found:
        click.echo(f"{t['reference']}  {t['status']:<7}  {t['created_at'][:16]}  "
                   f"{one_line(t['email'], 30):<30}  {one_line(t['subject'], 60)}")
    click.echo(f"{len(found)} ticket(s)", err=True)


def one_line(text: str, width: int) -> str:
    """Terminal-safe: control and bidi characters shown escaped, long text cut."""
    safe = "".join(c if c.isprintable() and c not in "\u202a\u202b\u202c\u202d\u202e\u2066"
                   "\u2067\u2068\u2069" else repr(c)[1:-1] for c in text)
    return safe if len(safe) <= width else safe[: width - 1] + "…"


def public(ticket: Ticket) -> dict[str, Any]:
    """A ticket as exports and `show` print it: without its token hash, keys in the model's
    order, so the same ticket prints the same from any store."""
    return {k: v for k, v in canonical(ticket).items() if k != "token_hash"}


@tickets.command()
@click.argument("reference")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@settings_options
def show(settings: Settings, reference: str, fmt: str) -> None:
    """Show one ticket with its conversation and self-service trail.

    \b
    Example:
        deskbell tickets show DB-7K3Q-M9XP-2W4H
    """
    with store_errors():
        ticket = open_store(settings).get(reference)
    if ticket is None:
        raise click.ClickException(f"no ticket {reference}")
    if fmt == "json":
        click.echo(json.dumps(public(ticket), ensure_ascii=False, indent=2))
        return
    click.echo(f"{ticket['reference']}  [{ticket['status']}]  {one_line(ticket['subject'], 200)}")
    click.echo(f"From: {one_line(ticket['name'], 100)} <{one_line(ticket['email'], 254)}>")
    click.echo(f"Page: {one_line(ticket['page_url'], 300)}")
    for entry in ticket["thread"]:
        click.echo(f"\n--- {entry['author']} {one_line(entry['author_name'], 100)} {entry['at']}")
        click.echo("\n".join(one_line(line, 10000) for line in entry["body"].splitlines()))
    trail = ticket.get("trail") or {}
    for search in trail.get("searches", []):
        click.echo(f"searched: {one_line(search.get('q', ''), 200)} "
                   f"({search.get('results', '?')} results)")
    for article in trail.get("articles", []):
        click.echo(f"opened: {one_line(article.get('slug', ''), 200)}")


@tickets.command()
@click.argument("reference")
@click.argument("message")
@click.option("--status", type=_status_choice(), default=None,
              help="Status after the reply (default: pending).")
@click.option("--as", "author_name", default=None, help="Name shown to the visitor.")
@settings_options
def reply(settings: Settings, reference: str, message: str, status: str | None,
          author_name: str | None) -> None:
    """Reply to a ticket as an agent (MESSAGE `-` reads standard input).

    \b
    Example:
        deskbell tickets reply DB-7K3Q-M9XP-2W4H "Try the link again."
        deskbell tickets reply DB-7K3Q-M9XP-2W4H - --status solved < answer.txt
    """
    text = sys.stdin.read() if message == "-" else message
    with store_errors():
        helpdesk = open_helpdesk(settings)
        replied = helpdesk.agent_reply(reference, text, status, author_name, field="message")
    click.echo(f"replied to {reference}; status {replied.ticket['status']}")
    if replied.notice is not None and not helpdesk.notify(replied.notice):
        click.echo("warning: the visitor could not be emailed (see log)", err=True)


@tickets.command(name="status")
@click.argument("reference")
@click.argument("status", type=_status_choice())
@settings_options
def status_command(settings: Settings, reference: str, status: str) -> None:
    """Change a ticket's status.

    \b
    Example:
        deskbell tickets status DB-7K3Q-M9XP-2W4H solved
    """
    with store_errors():
        ticket = open_helpdesk(settings).set_status(reference, status)
    click.echo(f"{reference} is now {ticket['status']}")


@tickets.command(name="assign")
@click.argument("reference")
@click.argument("agent")
@settings_options
def assign_command(settings: Settings, reference: str, agent: str) -> None:
    """Assign a ticket to AGENT (a sign-in name), or to nobody with AGENT `-`.

    AGENT must be active with a role that replies (owner or agent). They are emailed when
    they have an address (deskbell agents set-email). Recorded in the audit log.

    \b
    Example:
        deskbell tickets assign DB-7K3Q-M9XP-2W4H maria
        deskbell tickets assign DB-7K3Q-M9XP-2W4H -
    """
    from widget_server import mail
    from widget_server.team import Actor

    from .agents import open_team, team_errors

    team = open_team(settings)
    with team_errors():
        chosen = None
        if agent != "-":
            chosen = team.find(agent)
            if not chosen.can("reply"):
                raise click.ClickException(f"{chosen.name} cannot be assigned tickets: "
                                           f"{'disabled' if chosen.disabled else chosen.role}")
    with store_errors():
        helpdesk = open_helpdesk(settings)
        done = helpdesk.assign(reference, chosen.id if chosen else None, None, "cli",
                               chosen.display_name if chosen else None)
    if not done.changed:
        click.echo(f"{reference} is already {'assigned to ' + chosen.name if chosen else 'unassigned'}")
        return
    with team_errors():
        team.record(Actor.cli(), "ticket.assigned" if chosen else "ticket.unassigned",
                    reference, assignee=chosen.name if chosen else None)
    click.echo(f"{reference} is now {'assigned to ' + chosen.name if chosen else 'unassigned'}")
    if chosen is not None and chosen.email and mail.enabled(settings):
        notice = mail.assignment_message(settings, done.ticket, chosen.email, "cli")
        if not helpdesk.notify(notice):
            click.echo(f"warning: {chosen.name} could not be emailed (see log)", err=True)


# ---------------------------------------------------------------- export


def csv_safe(value: Any) -> str:
    """A cell a spreadsheet will not run: formulas get a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_row(ticket: Ticket) -> list[str]:
    rating = ticket["ratings"][-1] if ticket.get("ratings") else {}
    replies = sum(1 for e in ticket["thread"] if e["author"] == "agent")
    values = {**ticket, "replies": replies, "csat": rating.get("csat"),
              "ces": rating.get("ces")}
    return [csv_safe(values.get(column)) for column in CSV_COLUMNS]


def write_tickets(found: Iterable[Ticket], fmt: str, out: IO[str]) -> int:
    count = 0
    writer = csv.writer(out, lineterminator="\r\n") if fmt == "csv" else None
    if writer:
        writer.writerow(CSV_COLUMNS)
    if fmt == "json":
        out.write("[")
    for ticket in found:
        count += 1
        if writer:
            writer.writerow(csv_row(ticket))
        elif fmt == "jsonl":
            out.write(json.dumps(public(ticket), ensure_ascii=False) + "\n")
        else:
            out.write(("," if count > 1 else "") + "\n" +
                      json.dumps(public(ticket), ensure_ascii=False))
    if fmt == "json":
        out.write("\n]\n" if count else "]\n")
    return count


def _selected(store: TicketStore, since: datetime | None, status: str | None
              ) -> Iterator[Ticket]:
    first = since.replace(tzinfo=UTC).isoformat() if since else ""
    for ticket in store.iter_tickets():
        if (status is None or ticket["status"] == status) and ticket["created_at"] >= first:
            yield ticket


def _write_file(path: Path, fmt: str, found: Iterable[Ticket]) -> int:
    """Written aside and renamed, so a failed export never leaves half a file behind."""
    try:
        with replacing(path, newline="") as out:
            count = write_tickets(found, fmt, out)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None
    return count


@click.command(name="tickets")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl"]), default="csv",
              show_default=True, help="Output format.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Only tickets opened on or after this UTC day (YYYY-MM-DD).")
@click.option("--status", type=_status_choice(), default=None, help="Only this status.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: standard output).")
@settings_options
def export_tickets(settings: Settings, fmt: str, since: datetime | None, status: str | None,
                   output: Path | None) -> None:
    """Export tickets. CSV follows RFC 4180 with formula cells neutralised; JSON round-trips.

    \b
    Example:
        deskbell export tickets --format csv --since 2026-01-01 -o tickets.csv
        deskbell export tickets --format jsonl --status solved
    """
    with store_errors():
        found = _selected(open_store(settings), since, status)
        if output is None:
            count = write_tickets(found, fmt, sys.stdout)
        else:
            count = _write_file(output, fmt, found)
    click.echo(f"exported {count} tickets", err=True)
    audit(settings, "export.tickets", format=fmt, count=count)


COMMANDS = [tickets]
