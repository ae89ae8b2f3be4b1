"""Commands for authors: init, check, reindex, search, snippet, config."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import textwrap
from pathlib import Path

import click

from widget_server import resources
from widget_server.articles import Article, article_path, load_site_kb, untranslated
from widget_server.errors import StorageUnavailable
from widget_server.insights.freshness import (
    HELPFUL,
    VoteWindows,
    freshness_report,
    vote_windows,
)
from widget_server.markup import html_to_text
from widget_server.search import Answer, ReindexBusy, SearchService, Synonyms, reindex
from widget_server.search.embedding import load_model
from widget_server.settings import SETTINGS, Settings, describe, shown
from widget_server.tickets.factory import open_event_store

from .identity import new_secret
from .options import settings_options


def _load(settings: Settings):  # type: ignore[no-untyped-def]
    try:
        return load_site_kb(settings)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@click.option("--stale", is_flag=True,
              help="Report published articles past their review_by date, links visitors "
                   "cannot follow and articles voted less helpful than the month before, "
                   "with each article's owner; exits 0.")
@settings_options
def check(settings: Settings, stale: bool) -> None:
    """Validate every article without touching the index.

    Prints each problem as path:line: message and exits 1 if any is an error.
    With --stale, reports what needs an author instead, one line each with the
    article's owner: published articles past their review_by date, /kb/ links
    to an article that does not exist or is a draft, and articles whose helpful
    ratio fell by 15 points or more from the 30 days before to the last 30 (with
    5 votes or more in each). A report: it exits 0, or 1 if the votes cannot be read.

    \b
    Example:
        deskbell check --kb ./kb
        deskbell check --stale
    """
    kb = _load(settings)
    errors = [p for p in kb.problems if p.severity == "error"]
    if stale:
        _stale(settings, kb.articles, len(errors))
        return
    for problem in kb.problems:
        prefix = "" if problem.severity == "error" else "warning: "
        click.echo(f"{Path(settings.kb_dir) / problem.path}:{problem.line}: {prefix}{problem.message}")
    _untranslated(settings, kb.articles)
    drafts = sum(a.draft for a in kb.articles)
    click.echo(
        f"{len(kb.articles)} articles ({drafts} drafts), {len(errors)} errors, "
        f"{len(kb.problems) - len(errors)} warnings", err=True,
    )
    if errors:
        sys.exit(1)


def _untranslated(settings: Settings, articles: list[Article]) -> None:
    """A table of the articles of the default language each other language still lacks."""
    missing = untranslated(articles, settings.default_locale)
    if not missing:
        return
    originals = sum(1 for a in articles
                    if a.locale == settings.default_locale and not a.draft and not a.internal)
    click.echo(f"\nuntranslated: published {settings.default_locale} articles ({originals}) "
               "without a translation")
    click.echo(f"{'locale':<8} {'missing':>7}  articles")
    for locale, items in missing.items():
        click.echo(f"{locale:<8} {len(items):>7}  {', '.join(a.slug for a in items) or '-'}")


def _stale(settings: Settings, articles: list[Article], errors: int) -> None:
    now = dt.datetime.now(dt.UTC)
    found = freshness_report(articles, _votes(settings, now), now, dt.date.today())
    for item in found:
        click.echo(f"{Path(settings.kb_dir) / item.path}:{item.line}: {item.message} "
                   f"(owner: {item.owner or 'none'})")
    overdue = sum(item.kind == "review" for item in found)
    links = sum(item.kind == "link" for item in found)
    fell = sum(item.kind == HELPFUL for item in found)
    note = f" (deskbell check finds {errors} errors)" if errors else ""
    click.echo(f"{overdue} articles past review, {links} links visitors cannot follow, "
               f"{fell} articles voted less helpful{note}", err=True)


def _votes(settings: Settings, now: dt.datetime) -> VoteWindows:
    """The votes the helpful-ratio comparison needs, from the configured event store; none
    when the JSON store's data folder does not exist (checking a KB creates no data folder)."""
    if settings.event_store == "json" and not Path(settings.data_dir).is_dir():
        return {}, {}
    try:
        store = open_event_store(settings)
        try:
            return vote_windows(store, now)
        finally:
            store.close()
    except (OSError, StorageUnavailable) as exc:
        raise click.ClickException(f"cannot read the votes in the event store: {exc}") from None


@click.command(name="reindex")
@click.option("--full", is_flag=True, help="Re-render and re-index every article.")
@settings_options
def reindex_command(settings: Settings, full: bool) -> None:
    """Build a new search index beside the live one and swap it in.

    Incremental by default: only changed articles are rendered again. A running
    server switches to the new index without a restart.

    \b
    Example:
        deskbell reindex --kb ./kb
        deskbell reindex --full
    """
    kb = _load(settings)
    bar = None
    if sys.stderr.isatty():
        bar = click.progressbar(length=max(1, len(kb.articles)), label="Indexing", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.length = total
            bar.update(1)

    vector_bar = None

    def vector_progress(done: int, total: int) -> None:
        nonlocal vector_bar
        if not sys.stderr.isatty():
            return
        if vector_bar is None:
            if bar is not None:
                bar.render_finish()
            vector_bar = click.progressbar(length=total, label="Encoding", file=sys.stderr)
        vector_bar.update(done - vector_bar.pos)

    problems = [p for p in kb.problems if p.severity == "error"]
    try:
        result = reindex(Path(settings.kb_dir), settings.index_dir, full=full, progress=progress,
                         articles=kb.public(), semantic=settings.semantic,
                         vector_progress=vector_progress)
    except ReindexBusy as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        for shown in (bar, vector_bar):
            if shown is not None:
                shown.render_finish()
    for problem in problems:
        click.echo(f"skipped {Path(settings.kb_dir) / problem.path}:{problem.line}: {problem.message}", err=True)
    skipped = len({p.path for p in problems}) + len(result.skipped)
    click.echo(result.summary() + (f"; {skipped} files skipped (see above)" if skipped else ""))


@click.command(name="search")
@click.argument("query")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True,
              help="Print the hits as JSON (with --explain: the answer, hits and scores).")
@click.option("--explain", is_flag=True,
              help="Show each hit's word score, meaning score and why it ranks there.")
@settings_options
def search_command(settings: Settings, query: str, limit: int, as_json: bool, explain: bool) -> None:
    """Search the index as a visitor would, to check an article's wording.

    Prints the quoted answer when search is confident enough, then the hits.

    \b
    Example:
        deskbell search "how do i get my money back"
        deskbell search "reset my pasword" --explain
    """
    if not settings.index_dir.joinpath("CURRENT").exists():
        raise click.ClickException("no index yet: run `deskbell reindex` first")
    service = SearchService(settings.index_dir, Synonyms.load(settings.synonyms_file or None),
                            semantic=settings.semantic, threshold=settings.answer_threshold,
                            default_locale=settings.default_locale)
    try:
        result = service.search(query, limit=limit)
        reasons = service.explain(query, limit) if explain else []
        status = service.status()
    finally:
        service.close()
    if as_json and not explain:  # the hits as a list, as before answers existed
        click.echo(json.dumps([h.as_dict() for h in result.hits], indent=2, ensure_ascii=False))
        return
    if as_json:
        click.echo(json.dumps({
            "query": query, "total": result.total, "confidence": round(result.confidence, 3),
            "answer": result.answer.as_dict() if result.answer else None,
            "results": [h.as_dict() for h in result.hits],
            "explain": reasons, "search": status,
        }, indent=2, ensure_ascii=False))
        return
    if status["note"]:
        click.echo(f"note: {status['note']}", err=True)
    threshold = status["answer_threshold"]
    if result.answer:
        where = f" > {result.answer.heading}" if result.answer.heading else ""
        click.echo(f"Answer (confidence {result.confidence:.2f}, threshold {threshold:.2f}): "
                   f"{result.answer.title}{where}  [{_answer_link(result.answer)}]")
        click.echo(textwrap.indent(textwrap.fill(html_to_text(result.answer.html)[0], 88), "    "))
    elif result.hits:
        click.echo(f"No confident answer (confidence {result.confidence:.2f} is below "
                   f"{threshold:.2f}); the closest articles:")
    if not result.hits:
        click.echo(f"No articles match {query!r}.")
        return
    click.echo(f"{result.total} matches for {query!r}:")
    for rank, hit in enumerate(result.hits, start=1):
        click.echo(f"{rank:>2}. {hit.title}  [{hit.slug}]  score {hit.score:.2f}")
    for rank, row in enumerate(reasons, start=1):
        meaning = "-" if row["semantic"] is None else f"{row['semantic']:.2f}"
        click.echo(f"{rank:>2}. {row['slug']}: words {row['lexical']:.2f} "
                   f"(covers {row['coverage']:.0%} of the query), meaning {meaning}, "
                   f"fused {row['score']:.2f}; found by {row['found_by']}")


def _answer_link(answer: Answer) -> str:
    return article_path(answer.slug) + (f"#{answer.anchor}" if answer.anchor else "")


@click.command()
@click.option("--url", "server_url", default=None, help="Public URL of this server.")
@click.option("--site", default="default", show_default=True)
@settings_options
def snippet(settings: Settings, server_url: str | None, site: str) -> None:
    """Print the one-line HTML snippet to paste into a site.

    \b
    Example:
        deskbell snippet --url https://help.example.com
    """
    base = (server_url or settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    from html import escape
    click.echo(f'<script async src="{escape(base)}/widget.js" data-site="{escape(site)}"></script>')


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing deskbell.toml.")
@click.option("--owner", default=None, metavar="NAME",
              help="Also create the first owner account NAME (asks for its password).")
@click.argument("directory", default=".", type=click.Path(file_okay=False))
def init(directory: str, force: bool, owner: str | None) -> None:
    """Create deskbell.toml and a kb/ folder with the user guide as sample articles.

    \b
    Example:
        deskbell init my-help-center --owner ana && cd my-help-center && deskbell reindex
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    config = root / "deskbell.toml"
    if config.exists() and not force:
        raise click.ClickException(f"{config} exists; use --force to overwrite it")
    lines = ["# Deskbell settings; every one can also be set as DESKBELL_<NAME>.", ""]
    for item in describe():
        lines.append(f"# {item['help']}")
        lines.append(f"# {item['name']} = {json.dumps(item['default'])}")
    # The identity secret your site signs visitors with (deskbell identity shows how).
    config.write_text("\n".join(lines) + '\n\nkb_dir = "kb"\ndata_dir = "deskbell-data"\n'
                      f'identity_secret = "{new_secret()}"\n')
    config.chmod(0o600)  # it holds a secret
    kb = root / "kb"
    source = resources.bundled_kb_dir()
    if not kb.exists() and source is not None:
        shutil.copytree(source, kb)
    else:
        kb.mkdir(exist_ok=True)
    if owner:
        from .agents import add_owner

        add_owner(root / "deskbell-data", owner)
    click.echo(f"Wrote {config} and {kb}/. Next: deskbell reindex && deskbell serve")


@click.command(name="config")
@settings_options
def config_command(settings: Settings) -> None:
    """Show every setting with its current value and where to change it.

    \b
    Example:
        DESKBELL_PORT=9000 deskbell config
    """
    for setting in SETTINGS:
        value = shown(setting, settings.values[setting.name])
        click.echo(f"{setting.name:<22} {value:<28} {setting.help}")
    encoder, note = load_model(settings.semantic)
    ranking = "by meaning and words (hybrid)" if encoder else f"by words only: {note}"
    click.echo(f"\nsearch ranks {ranking}")


COMMANDS = [init, check, reindex_command, search_command, snippet, config_command]
