"""`deskbell db upgrade` and `deskbell db status`: the schema of the PostgreSQL database that
keeps tickets and/or events.

One schema holds both (tickets since version 1, events since 2), so the commands work on each
distinct PostgreSQL URL among `ticket_store` and `event_store`: usually one. When neither names
PostgreSQL both commands say so and succeed. psycopg is imported only when a setting names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import click

from widget_server.settings import POSTGRES_SCHEMES, Settings

from .options import settings_options
from .tickets import store_errors


def _postgres_urls(settings: Settings) -> list[tuple[str, str]]:
    """(the settings naming it, URL) for each distinct PostgreSQL URL among ticket_store and
    event_store; none (after saying so) when neither names PostgreSQL."""
    found: dict[str, list[str]] = {}
    for name in ("ticket_store", "event_store"):
        kind = str(getattr(settings, name))
        if kind.startswith(POSTGRES_SCHEMES):
            found.setdefault(kind, []).append(name)
    if not found:
        click.echo(f"ticket_store is {settings.ticket_store}: nothing to migrate "
                   "(only a PostgreSQL ticket store has a schema)"
                   if settings.event_store == "json" else
                   f"ticket_store is {settings.ticket_store} and event_store is "
                   f"{settings.event_store}: nothing to migrate (only a PostgreSQL store has "
                   "a schema)")
    return [(" and ".join(names), url) for url, names in found.items()]


def _databases(settings: Settings) -> Iterator[str]:
    """The URL of each PostgreSQL database the settings name, their setting named first when
    there are two."""
    urls = _postgres_urls(settings)
    for names, url in urls:
        if len(urls) > 1:
            click.echo(f"{names}:")
        yield url


def _pg_schema() -> ModuleType:
    try:
        from widget_server.tickets import pg_schema
    except ImportError as exc:
        raise click.ClickException(f"PostgreSQL needs the postgresql extra: pip install "
                                   f"'deskbell[postgresql]' ({exc})") from None
    return pg_schema


@click.group()
def db() -> None:
    """Migrate the PostgreSQL database that keeps tickets or events (a postgresql:// URL).

    \b
    Example:
        deskbell db status
        deskbell db upgrade
    """


@db.command()
@settings_options
def upgrade(settings: Settings) -> None:
    """Apply the pending migrations to the PostgreSQL schema, in one transaction.

    Run it before starting a new Deskbell version, from any one machine. It is safe to run
    again (it then does nothing) and at the same time elsewhere (one waits for the other).

    \b
    Example:
        DESKBELL_TICKET_STORE=postgresql://deskbell@db.example.com/deskbell deskbell db upgrade
    """
    for url in _databases(settings):
        pg_schema = _pg_schema()
        with store_errors(), pg_schema.connect(url) as conn:
            before = pg_schema.schema_version(conn)
            applied = pg_schema.upgrade(conn)
            after = pg_schema.status(conn)
        for migration in applied:
            click.echo(f"applied {migration.label}")
        if applied:
            click.echo(f"PostgreSQL schema {after.schema} upgraded from version {before} to "
                       f"{after.version}")
        else:
            click.echo(f"PostgreSQL schema {after.schema} is up to date "
                       f"(version {after.version})")


@db.command()
@settings_options
def status(settings: Settings) -> None:
    """Show the PostgreSQL schema's version, its applied and its pending migrations.

    \b
    Example:
        deskbell db status --config /etc/deskbell/deskbell.toml
    """
    for url in _databases(settings):
        pg_schema = _pg_schema()
        with store_errors(), pg_schema.connect(url) as conn:
            state = pg_schema.status(conn)
        verdict = ("up to date" if state.current else
                   "run deskbell db upgrade" if state.version < state.latest else
                   "newer than this Deskbell: upgrade Deskbell on this machine")
        click.echo(f"PostgreSQL schema {state.schema}: version {state.version}, this Deskbell "
                   f"needs {state.latest} ({verdict})")
        for applied in state.applied:
            at = applied.applied_at.strftime("%Y-%m-%d %H:%M:%S %Z")
            click.echo(f"  {applied.version:04d}_{applied.name:<24} applied {at}")
        for pending in state.pending:
            click.echo(f"  {pending.label:<29} pending")


COMMANDS = [db]
