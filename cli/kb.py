"""Commands for authors: init, check, reindex, search, snippet, config."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import click

from widget_server import resources
from widget_server.articles import load_kb
from widget_server.search import ReindexBusy, SearchService, Synonyms, reindex
from widget_server.settings import Settings, describe

from .options import settings_options


def _load(settings: Settings):  # type: ignore[no-untyped-def]
    try:
        return load_kb(Path(settings.kb_dir))
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@settings_options
def check(settings: Settings) -> None:
    """Validate every article without touching the index.

    Prints each problem as path:line: message and exits 1 if any is an error.

    \b
    Example:
        deskbell check --kb ./kb
    """
    kb = _load(settings)
    errors = [p for p in kb.problems if p.severity == "error"]
    for problem in kb.problems:
        prefix = "" if problem.severity == "error" else "warning: "
        click.echo(f"{Path(settings.kb_dir) / problem.path}:{problem.line}: {prefix}{problem.message}")
    drafts = sum(a.draft for a in kb.articles)
    click.echo(
        f"{len(kb.articles)} articles ({drafts} drafts), {len(errors)} errors, "
        f"{len(kb.problems) - len(errors)} warnings", err=True,
    )
    if errors:
        sys.exit(1)


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

    problems = [p for p in kb.problems if p.severity == "error"]
    try:
        result = reindex(Path(settings.kb_dir), settings.index_dir, full=full, progress=progress,
                         articles=kb.public())
    except ReindexBusy as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if bar is not None:
            bar.render_finish()
    for problem in problems:
        click.echo(f"skipped {Path(settings.kb_dir) / problem.path}:{problem.line}: {problem.message}", err=True)
    skipped = len({p.path for p in problems}) + len(result.skipped)
    click.echo(result.summary() + (f"; {skipped} files skipped (see above)" if skipped else ""))


@click.command(name="search")
@click.argument("query")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
@settings_options
def search_command(settings: Settings, query: str, limit: int, as_json: bool) -> None:
    """Search the index as a visitor would, to check an article's wording.

    \b
    Example:
        deskbell search "reset my pasword"
    """
    if not settings.index_dir.joinpath("CURRENT").exists():
        raise click.ClickException("no index yet: run `deskbell reindex` first")
    service = SearchService(settings.index_dir, Synonyms.load(settings.synonyms_file or None))
    try:
        result = service.search(query, limit=limit)
    finally:
        service.close()
    if as_json:
        click.echo(json.dumps([h.as_dict() for h in result.hits], indent=2, ensure_ascii=False))
        return
    if not result.hits:
        click.echo(f"No articles match {query!r}.")
        return
    click.echo(f"{result.total} matches for {query!r}:")
    for rank, hit in enumerate(result.hits, start=1):
        click.echo(f"{rank:>2}. {hit.title}  [{hit.slug}]  score {hit.score:.2f}")


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
@click.argument("directory", default=".", type=click.Path(file_okay=False))
def init(directory: str, force: bool) -> None:
    """Create deskbell.toml and a kb/ folder with the user guide as sample articles.

    \b
    Example:
        deskbell init my-help-center && cd my-help-center && deskbell reindex
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
    config.write_text("\n".join(lines) + '\n\nkb_dir = "kb"\ndata_dir = "deskbell-data"\n')
    kb = root / "kb"
    source = resources.bundled_kb_dir()
    if not kb.exists() and source is not None:
        shutil.copytree(source, kb)
    else:
        kb.mkdir(exist_ok=True)
    click.echo(f"Wrote {config} and {kb}/. Next: deskbell reindex && deskbell serve")


@click.command(name="config")
@settings_options
def config_command(settings: Settings) -> None:
    """Show every setting with its current value and where to change it.

    \b
    Example:
        DESKBELL_PORT=9000 deskbell config
    """
    secret = {"admin_password", "smtp_password", "secret_key"}
    for item in describe():
        value = settings.values[item["name"]]
        shown = "(set)" if item["name"] in secret and value else value
        if isinstance(shown, tuple):
            shown = ",".join(shown)
        click.echo(f"{item['name']:<22} {shown!s:<28} {item['help']}")


COMMANDS = [init, check, reindex_command, search_command, snippet, config_command]
