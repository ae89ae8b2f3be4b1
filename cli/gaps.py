"""`deskbell gaps`: the content gaps worth an article, a markdown draft for each, and with
--covered the gaps a published article answers, before and after its publication."""

from __future__ import annotations

import json
import os
import secrets
import unicodedata
from collections.abc import Callable, Container
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from widget_server.articles import load_site_kb, slug_for_path
from widget_server.events import EventStore
from widget_server.insights import (
    Draft,
    Report,
    TopGap,
    draft_articles,
    load_report,
    to_jsonable,
    top_gaps,
)
from widget_server.insights.coverage import (
    DEFAULT_DAYS,
    Coverage,
    CoverageReport,
    covered_in,
    load_coverage,
    relabel,
)
from widget_server.insights.digest import gap_counts
from widget_server.search import current_generation
from widget_server.search.layout import read_words
from widget_server.settings import Settings
from widget_server.tickets import TicketStore, open_ticket_store

from .options import settings_options
from .report import range_options, resolve_range, zone

Covered = Callable[[TopGap], str | None]


def _read(settings: Settings, since: datetime, until: datetime,
          tz: ZoneInfo) -> tuple[Report, TicketStore]:
    """The same report as `deskbell report` (one load_report), and the store its tickets are in."""
    if not Path(settings.data_dir).is_dir():
        raise click.ClickException(f"no Deskbell data in {settings.data_dir} (is --data-dir right?)")
    try:
        events = EventStore.from_settings(settings)  # its constructor applies retention
        tickets = open_ticket_store(settings)
        return load_report(events, tickets, since, until, tz, settings.self_service_hours), tickets
    except OSError as exc:
        raise click.ClickException(f"cannot read {settings.data_dir}: {exc}") from None


def _line(number: int, gap: TopGap) -> str:
    others = [v.query for v in gap.variants if v.query != gap.query]
    also = f" (also: {', '.join(others[:3])})" if others else ""
    return f"  {number}. {gap.query}{also}: {gap_counts(gap)}"


def _covered(settings: Settings) -> Covered:
    """The slug of the published article that covers a gap (None: none does), from the
    `sources` its draft left in its front matter; no article covers anything when the
    knowledge base folder is missing."""
    slug_of = covered_in(Path(settings.kb_dir))
    return lambda gap: slug_of(v.query for v in gap.variants)


def _labelled(gaps: tuple[TopGap, ...], covered: Covered) -> tuple[TopGap, ...]:
    """The gaps, "write an article" replaced by "covered by <slug>" where an article is."""
    out = []
    for gap in gaps:
        slug = covered(gap)
        out.append(replace(gap, actions=relabel(gap.actions, slug)) if slug else gap)
    return tuple(out)


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
    kb = load_site_kb(settings)
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


_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _plain(text: str) -> str:
    """Front matter or visitor text for a terminal: control characters (escape sequences)
    and bidirectional overrides (which reorder what follows) as spaces."""
    return "".join(" " if c in _BIDI or unicodedata.category(c) == "Cc" else c for c in text)


def _change(name: str, before: int, after: int) -> str:
    return f"{name} {before} \u2192 {after}"


def covered_lines(result: CoverageReport, today: date, tz_name: str) -> list[str]:
    """The text of `deskbell gaps --covered` for windows that end by `today`'s midnight."""
    out = [f"Covered gaps up to {today - timedelta(days=1)} ({tz_name}):"]
    for row in result.rows:
        a, b, c = row.article, row.before, row.after
        out.append(f"  {a.slug} ({_plain(a.title)}), published {a.published}, covers: "
                   f"{', '.join(_plain(q) for q in a.queries[:5])}"
                   + (f" and {len(a.queries) - 5} more" if len(a.queries) > 5 else ""))
        figures = ", ".join([_change("zero-result searches", b.zero_result_searches,
                                     c.zero_result_searches),
                             _change("searches", b.searches, c.searches),
                             _change("tickets", b.tickets, c.tickets)])
        out.append(f"    {figures}, over {row.days} day{'s' * (row.days != 1)} before and "
                   f"after {a.published}"
                   + ("" if row.complete else
                      f" (the after window ends {_last(row)}: not over yet)")
                   + (" (the before window starts before the oldest events kept: its "
                      "figures are partial)" if row.partial else ""))
    for article, why in result.waiting:
        out.append(f"  {article.slug} ({_plain(article.title)}): not compared, {why}")
    if len(out) == 1:
        out.append("  none: no published article has the `sources` of a draft")
    return out


def _last(row: Coverage) -> date:
    return (row.after_until - timedelta(seconds=1)).date()


def _print_covered(settings: Settings, today: date, tz: ZoneInfo, days: int,
                   fmt: str) -> None:
    if not Path(settings.kb_dir).is_dir():
        raise click.ClickException(f"knowledge base folder not found: {settings.kb_dir} "
                                   "(is --kb right?)")
    if not Path(settings.data_dir).is_dir():
        raise click.ClickException(f"no Deskbell data in {settings.data_dir} (is --data-dir right?)")
    try:
        events = EventStore.from_settings(settings)
        try:
            result = load_coverage(events, Path(settings.kb_dir), today, tz, days)
        finally:
            events.close()
    except OSError as exc:
        raise click.ClickException(f"cannot read {settings.data_dir}: {exc}") from None
    for problem in result.problems:
        click.echo(_plain(f"warning: {settings.kb_dir}/{problem}"), err=True)
    if fmt == "json":
        click.echo(json.dumps({"until": (today - timedelta(days=1)).isoformat(),
                               "timezone": tz.key,
                               **to_jsonable(result)}, indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(covered_lines(result, today, tz.key)))


@click.command()
@range_options
@click.option("--draft", "draft_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Write a markdown draft (draft: true) per gap into this folder.")
@click.option("--limit", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many gaps to list (and draft).")
@click.option("--covered", "show_covered", is_flag=True,
              help="List the gaps a published article covers, with their zero-result "
                   "searches and tickets before and after its publication.")
@click.option("--days", type=click.IntRange(min=1), default=DEFAULT_DAYS, show_default=True,
              help="With --covered: the longest window compared on each side of a "
                   "publication day.")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="text",
              show_default=True, help="With --covered: output format.")
@settings_options
def gaps(settings: Settings, since: datetime | None, until: datetime | None, tz_name: str,
         draft_dir: Path | None, limit: int, show_covered: bool, days: int,
         fmt: str) -> None:
    """List the content gaps worth an article, and draft one article per gap.

    The gaps are those of `deskbell report` for the same days: searches that ended in a
    ticket first, then searches that found nothing. With --draft, each gap becomes
    DIR/<slug>.md: front matter ready for the knowledge base (draft: true, tags and aliases
    from the spellings, the sources), a heading per question in the visitors' words, and
    the agent's answer where a ticket of the gap was solved. Emails, phone numbers, long
    numbers and the visitors' names are replaced. An existing file is never overwritten:
    it is skipped and said so.

    A published article (no `draft: true`) that still has its draft's `sources` covers
    the queries listed there: its gap is labelled "covered by <slug>" instead of "write
    an article", and gets no new draft. --covered lists those gaps: for each article,
    the zero-result searches, searches and tickets of its queries in the N days before
    its publication day (`updated`, or `date`) and the N days after, N being the days
    since publication, at most --days, at least 1. The last day counted is yesterday,
    or --until (an article published today is compared over today so far).

    \b
    Example:
        deskbell gaps
        deskbell gaps --since 2026-03-01 --until 2026-03-31 --tz Europe/Paris
        deskbell gaps --draft kb/drafts --limit 3 && deskbell check
        deskbell gaps --covered --tz Europe/Paris
        deskbell gaps --covered --format json
    """
    tz = zone(tz_name)
    if show_covered:
        if since is not None or draft_dir is not None:
            raise click.UsageError("--covered compares the days before and after each "
                                   "publication (--days, --until): leave out --since and "
                                   "--draft")
        today = until.date() + timedelta(days=1) if until else datetime.now(tz).date()
        _print_covered(settings, today, tz, days, fmt)
        return
    if fmt != "text" or days != DEFAULT_DAYS:
        raise click.UsageError("--format and --days go with --covered")
    first, last = resolve_range(since and since.date(), until and until.date(), tz,
                                datetime.now(tz).date())
    report, tickets = _read(settings, first, last, tz)
    covered = _covered(settings)
    chosen = _labelled(top_gaps(report, limit), covered)
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
                                known=_vocabulary(settings), covered=covered)
        for gap in chosen:
            slug = covered(gap)
            if slug:
                click.echo(f"not drafted: {gap.query} is covered by {slug}")
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
