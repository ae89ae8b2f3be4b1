"""`deskbell notice set|list|clear`: the banner at the top of the help panel, from the terminal.

Works on the same store as the server (the `ticket_store` setting: notices.json in data_dir,
or the PostgreSQL `notices` table); a running server shows a change within a few seconds
(NoticeBoard's cache). Refused input exits with code 2 and one line per problem; a store that
cannot be used, or an unknown id, exits with code 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click

from widget_server.articles import load_site_kb
from widget_server.errors import DeskbellError
from widget_server.notices import (
    Notice,
    NoticeInvalid,
    NoticeStore,
    new_notice,
    open_notice_store,
    parse_texts,
)
from widget_server.settings import Settings

from .agents import record as audit
from .options import settings_options
from .tickets import one_line

# How each field of NoticeInvalid is called on this command line.
OPTION_NAMES = {"text": "TEXT", "texts": "--text", "article": "--article", "until": "--until"}


class NoticeRefused(click.ClickException):
    """The notice's input is wrong (not the store): exit 2, like click's usage errors."""

    exit_code = 2


@contextmanager
def store_errors() -> Iterator[None]:
    try:
        yield
    except NoticeInvalid as exc:
        raise NoticeRefused("the notice was not published:\n" + "\n".join(
            f"  {OPTION_NAMES.get(name, name)}: {why}" for name, why in exc.problems.items())
        ) from None
    except DeskbellError as exc:
        raise click.ClickException(exc.message) from None


def open_store(settings: Settings) -> NoticeStore:
    with store_errors():
        return open_notice_store(settings)


def article_finder(settings: Settings) -> Callable[[str], str | None]:
    """slug or alias -> the canonical slug of a public (not draft) article in the KB folder."""
    names: dict[str, str] | None = None

    def find(slug: str) -> str | None:
        nonlocal names
        if names is None:
            try:
                kb = load_site_kb(settings)
            except FileNotFoundError as exc:
                raise click.ClickException(f"{exc} (--article is checked against it; is --kb "
                                           "right?)") from None
            names = {name: a.slug for a in kb.public() for name in (a.aliases or [])}
            names.update({a.slug: a.slug for a in kb.public()})
        return names.get(slug)

    return find


@click.group()
def notice() -> None:
    """Publish, list and clear the notice shown at the top of the help panel.

    \b
    Example:
        deskbell notice set "We know checkout is failing; we're on it" \\
            --article status/checkout --until 2026-12-01T18:00 \\
            --text de="Wir wissen, dass der Checkout ausfällt; wir arbeiten daran"
        deskbell notice list
        deskbell notice clear
    """


def describe(n: Notice, now: datetime) -> str:
    """One terminal-safe line: id, state, end, article and the default text."""
    until = n.until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    languages = ",".join(sorted(n.texts)) or "-"
    return (f"{n.id}  {n.status(now):<7}  until {until}  {one_line(n.article or '-', 30):<30}  "
            f"[{languages}]  {one_line(n.text, 80)}")


@notice.command(name="set")
@click.argument("text")
@click.option("--until", "until", required=True, metavar="TIME",
              help="When it stops showing: 2026-12-01T18:00 (UTC unless it ends with an "
                   "offset such as +02:00).")
@click.option("--article", default=None, metavar="SLUG",
              help="A public article the banner links (opens in the panel).")
@click.option("--text", "texts", multiple=True, metavar="LOCALE=TEXT",
              help="The text in one UI language (ar, de, en, es, fr); repeat for more. Other "
                   "languages see TEXT.")
@settings_options
def set_command(settings: Settings, text: str, until: str, article: str | None,
                texts: tuple[str, ...]) -> None:
    """Publish a notice: TEXT (at most 200 characters, one line) until TIME.

    \b
    Example:
        deskbell notice set "Checkout is failing; we're on it" --until 2026-12-01T18:00 \\
            --article status/checkout --text fr="Le paiement échoue ; nous y travaillons"
    """
    try:
        translations = parse_texts(texts)
    except ValueError as exc:
        raise NoticeRefused(f"the notice was not published:\n  --text: {exc}") from None
    now = datetime.now(UTC)
    with store_errors():
        made = new_notice(text, until=until, now=now, texts=translations, article=article,
                          find_article=article_finder(settings))
        open_store(settings).add(made)
    audit(settings, "notice.published", made.id, until=made.until.isoformat(), text=made.text)
    click.echo(describe(made, now))
    click.echo(f"published notice {made.id}; clear it early with: deskbell notice clear "
               f"{made.id}", err=True)


@notice.command(name="list")
@click.option("--all", "everything", is_flag=True,
              help="Also the notices that expired or were cleared.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@settings_options
def list_command(settings: Settings, everything: bool, fmt: str) -> None:
    """List the notices showing now (newest first), or every notice with --all.

    \b
    Example:
        deskbell notice list --all --format json | jq '.[].id'
    """
    now = datetime.now(UTC)
    with store_errors():
        found = open_store(settings).all()
    if not everything:
        found = [n for n in found if n.showing(now)]
    found.reverse()
    if fmt == "json":
        click.echo(json.dumps([{**n.as_dict(), "status": n.status(now)} for n in found],
                              ensure_ascii=False, indent=2))
        return
    for n in found:
        click.echo(describe(n, now))
    click.echo(f"{len(found)} notice(s)" + ("" if everything else " showing"), err=True)


@notice.command(name="clear")
@click.argument("notice_id", metavar="[ID]", required=False)
@settings_options
def clear_command(settings: Settings, notice_id: str | None) -> None:
    """Take a notice down now: the one with ID, or every notice showing.

    \b
    Example:
        deskbell notice clear n3f9a2c1
    """
    now = datetime.now(UTC)
    with store_errors():
        cleared = open_store(settings).clear(notice_id, now)
    audit(settings, "notice.cleared", notice_id or "(all showing)", cleared=len(cleared))
    for n in cleared:
        click.echo(describe(n, now))
    if cleared:
        click.echo(f"cleared {len(cleared)} notice(s)", err=True)
    elif notice_id:
        click.echo(f"notice {notice_id} was not showing (already cleared or expired)", err=True)
    else:
        click.echo("no notice was showing", err=True)


COMMANDS = [notice]
