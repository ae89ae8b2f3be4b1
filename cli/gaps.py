"""`deskbell gaps`: the content gaps worth an article, and a markdown draft for each."""

from __future__ import annotations

import os
import secrets
from collections.abc import Container
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from widget_server.articles import load_kb, slug_for_path
from widget_server.events import EventStore
from widget_server.insights import Draft, Report, TopGap, draft_articles, load_report, top_gaps
from widget_server.search import current_generation
from widget_server.search.layout import read_words
from widget_server.settings import Settings
from widget_server.tickets import TicketStore, open_ticket_store

from .options import settings_options
from .report import range_options, resolve_range, zone


def _read(settings: Settings, since: datetime, until: datetime,
          tz: ZoneInfo) -> tuple[Report, TicketStore]:
    """The same report as `deskbell report` (one load_report), and the store its tickets are in."""
    if not Path(settings.data_dir).is_dir():
        raise click.ClickException(f"no Deskbell data in {settings.data_dir} (is --data-dir right?)")
    try:
        events = EventStore.from_settings(settings)  # its constructor applies retention
        tickets = open_ticket_store(settings)
        return load_report(events, tickets, since, until, tz), tickets
    except OSError as exc:
        raise click.ClickException(f"cannot read {settings.data_dir}: {exc}") from None


def _counts(gap: TopGap) -> str:
    parts = []
    if gap.searches:
        parts.append(f"{gap.searches} searches found nothing")
    if gap.tickets:
        parts.append(f"{gap.tickets} tickets followed a search")
    return ", ".join(parts)


def _line(number: int, gap: TopGap) -> str:
    others = [v.query for v in gap.variants if v.query != gap.query]
    also = f" (also: {', '.join(others[:3])})" if others else ""
    return f"  {number}. {gap.query}{also}: {_counts(gap)} -> {'; '.join(gap.actions)}"


def _not_drafted(report: Report, drafted: tuple[TopGap, ...]) -> list[str]:
    every = top_gaps(report)
    lines = [f"  {z.query}: {z.searches} searches found nothing -> {z.action}"
             for z in report.gaps.zero_results if not any(g.has(z.query) for g in every)]
    lines += [f"  {a.slug}: {a.not_helpful} of {a.votes} votes unhelpful -> {a.action}"
              for a in report.gaps.unhelpful_articles]
    left = len(every) - len(drafted)
    if left:
        lines.append(f"  {left} more gap(s) beyond --limit")
    return lines


def _vocabulary(settings: Settings) -> Container[str] | None:
    """The words of the live index, so a draft's title is spelt as the KB spells it."""
    name = current_generation(settings.index_dir)
    return set(read_words(settings.index_dir / name)) if name else None


def _kb_names(settings: Settings, folder: Path) -> tuple[set[str], str]:
    """Slugs and aliases the knowledge base already uses, and the slug folder of `folder`
    when it lies inside the knowledge base ("" otherwise)."""
    root = Path(settings.kb_dir)
    if not root.is_dir():
        return set(), ""
    kb = load_kb(root)
    taken = {name for a in kb.articles for name in (a.slug, *a.aliases)}
    try:
        prefix = slug_for_path(folder.resolve().relative_to(root.resolve()) / "x.md")
    except ValueError:
        return taken, ""
    return taken, prefix.rpartition("/")[0]


def write_new(folder: Path, draft: Draft) -> bool:
    """Write the draft as folder/<slug>.md unless that file exists; True when written.

    The text goes to a hidden file first and is linked into place, so the file appears whole
    or not at all, and an existing file (even one created meanwhile) is never replaced.
    """
    target = folder / draft.filename
    if target.exists():
        return False
    temporary = folder / f".{draft.slug}.{secrets.token_hex(4)}.tmp"
    temporary.write_text(draft.text, encoding="utf-8")
    try:
        os.link(temporary, target)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: create exclusively instead
        try:
            with target.open("x", encoding="utf-8") as out:
                out.write(draft.text)
        except FileExistsError:
            return False
    finally:
        temporary.unlink(missing_ok=True)
    return True


@click.command()
@range_options
@click.option("--draft", "draft_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Write a markdown draft (draft: true) per gap into this folder.")
@click.option("--limit", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many gaps to list (and draft).")
@settings_options
def gaps(settings: Settings, since: datetime | None, until: datetime | None, tz_name: str,
         draft_dir: Path | None, limit: int) -> None:
    """List the content gaps worth an article, and draft one article per gap.

    The gaps are those of `deskbell report` for the same days: searches that ended in a
    ticket first, then searches that found nothing. With --draft, each gap becomes
    DIR/<slug>.md: front matter ready for the knowledge base (draft: true, tags and aliases
    from the spellings, the sources), a heading per question in the visitors' words, and
    the agent's answer where a ticket of the gap was solved. Emails, phone numbers, long
    numbers and the visitors' names are replaced. An existing file is never overwritten:
    it is skipped and said so.

    \b
    Example:
        deskbell gaps
        deskbell gaps --since 2026-03-01 --until 2026-03-31 --tz Europe/Paris
        deskbell gaps --draft kb/drafts --limit 3 && deskbell check
    """
    tz = zone(tz_name)
    first, last = resolve_range(since and since.date(), until and until.date(), tz,
                                datetime.now(tz).date())
    report, tickets = _read(settings, first, last, tz)
    chosen = top_gaps(report, limit)
    click.echo(f"Content gaps {first.date()} to {(last - timedelta(seconds=1)).date()} "
               f"({report.timezone}), worth an article:")
    click.echo("\n".join(_line(n, g) for n, g in enumerate(chosen, 1)) or "  none")
    others = _not_drafted(report, chosen)
    if others:
        click.echo("No draft (a synonym, a rewrite, or past --limit):")
        click.echo("\n".join(others))
    if draft_dir is None:
        return
    if draft_dir.exists() and not draft_dir.is_dir():
        raise click.ClickException(f"{draft_dir} is not a folder")
    try:
        draft_dir.mkdir(parents=True, exist_ok=True)
        taken, prefix = _kb_names(settings, draft_dir)
        drafts = draft_articles(report, tickets.get, limit, taken=taken, prefix=prefix,
                                known=_vocabulary(settings))
        written = skipped = 0
        for draft in drafts:
            path = draft_dir / draft.filename
            if write_new(draft_dir, draft):
                written += 1
                click.echo(f"wrote {path}")
            else:
                skipped += 1
                click.echo(f"skipped {path}: the file exists (not overwritten)")
    except OSError as exc:
        raise click.ClickException(f"cannot write drafts in {draft_dir}: {exc}") from None
    click.echo(f"drafts: {written} written, {skipped} skipped")


COMMANDS = [gaps]
