"""`deskbell db upgrade` and `deskbell db status`: the schema of a PostgreSQL ticket store.

Only a PostgreSQL `ticket_store` has a schema to migrate; for json and memory both commands
say so and succeed. psycopg is imported only when the setting names PostgreSQL.
"""

from __future__ import annotations

from types import ModuleType

import click

from widget_server.settings import POSTGRES_SCHEMES, Settings

from .options import settings_options
from .tickets import store_errors


def _postgres_url(settings: Settings) -> str | None:
    """The PostgreSQL URL of `ticket_store`, or None (after saying so) for another store."""
    kind = settings.ticket_store
    if kind.startswith(POSTGRES_SCHEMES):
        return str(kind)
    click.echo(f"ticket_store is {kind}: nothing to migrate "
               "(only a PostgreSQL ticket store has a schema)")
    return None


def _pg_schema() -> ModuleType:
    try:
        from widget_server.tickets import pg_schema
    except ImportError as exc:
        raise click.ClickException(f"PostgreSQL needs the postgresql extra: pip install "
                                   f"'deskbell[postgresql]' ({exc})") from None
    return pg_schema


@click.group()
def db() -> None:
    """Migrate the PostgreSQL database that keeps tickets (ticket_store = "postgresql://…").

    \b
    Example:
        deskbell db status
        deskbell db upgrade
    """


@db.command()
@settings_options
def upgrade(settings: Settings) -> None:
    """Apply the pending migrations to the PostgreSQL ticket schema, in one transaction.

    Run it before starting a new Deskbell version, from any one machine. It is safe to run
    again (it then does nothing) and at the same time elsewhere (one waits for the other).

    \b
    Example:
        DESKBELL_TICKET_STORE=postgresql://deskbell@db.example.com/deskbell deskbell db upgrade
    """
    url = _postgres_url(settings)
    if url is None:
        return
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
        click.echo(f"PostgreSQL schema {after.schema} is up to date (version {after.version})")


@db.command()
@settings_options
def status(settings: Settings) -> None:
    """Show the PostgreSQL ticket schema's version, its applied and its pending migrations.

    \b
    Example:
        deskbell db status --config /etc/deskbell/deskbell.toml
    """
    url = _postgres_url(settings)
    if url is None:
        return
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
