"""The PostgreSQL schema: versioned migrations, applied in order, each once, under a lock.

Migrations are the files `widget_server/migrations/postgresql/NNNN_name.sql` (package data),
numbered from 1 without gaps; a shipped file is never edited, only followed by a new one.
`upgrade` applies the pending ones in one transaction that first takes an advisory lock on the
schema, so two upgrades at once (two terminals, two machines) apply each migration exactly
once and a failed one leaves the schema as it was; every applied version is a row of
`deskbell_schema`. `require_current` is what opening the ticket store and the event store
checks (pg.Database): a database behind this code (or ahead of it) stops the start with one
line saying what to run.

Everything lives in the schema the connection's search_path selects first (`public` unless
the URL says e.g. `?options=-csearch_path%3Ddeskbell`). Only this module, pg.py and the two
postgres.py stores import psycopg, and only when `ticket_store` or `event_store` names
PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources

import psycopg
from psycopg import conninfo

from ..errors import StorageUnavailable

MIGRATIONS = "widget_server.migrations"  # the package whose postgresql/ folder holds them
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_CLASS = 0x0DE5_BE11  # first key of the advisory lock; the second is the schema's hash
CONNECT_TIMEOUT = 5  # seconds, for libpq's connect_timeout


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


@dataclass(frozen=True)
class Applied:
    version: int
    name: str
    applied_at: datetime


@dataclass(frozen=True)
class SchemaStatus:
    """Where one database schema stands against the migrations this code ships."""

    schema: str
    version: int
    latest: int
    applied: tuple[Applied, ...]

    @property
    def pending(self) -> tuple[Migration, ...]:
        return tuple(m for m in migrations() if m.version > self.version)

    @property
    def current(self) -> bool:
        return self.version == self.latest


class SchemaMismatch(StorageUnavailable):
    """The database's schema version is not the one this code needs."""


@cache
def migrations() -> tuple[Migration, ...]:
    """Every shipped migration in order; a misnamed file or a gap in the numbers is a bug."""
    folder = resources.files(MIGRATIONS).joinpath("postgresql")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            match = _NAME.match(entry.name)
            if match is None:
                raise RuntimeError(f"migration {entry.name} is not named NNNN_name.sql")
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError("PostgreSQL migrations must be numbered 1, 2, 3… without gaps")
    return tuple(found)


def latest_version() -> int:
    return len(migrations())


def first_line(exc: BaseException) -> str:
    """libpq's message on one line, without its hints ("Is the server running…")."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"\s+", " ", text.removeprefix("connection failed: ")).strip()


def check_url(url: str) -> None:
    """StorageUnavailable if libpq cannot read `url` (an unknown query parameter, say)."""
    try:
        conninfo.conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise StorageUnavailable(f"not a valid PostgreSQL URL ({first_line(exc)})") from None


def connect(url: str, **kwargs: object) -> psycopg.Connection:
    """An autocommit connection, or StorageUnavailable saying why PostgreSQL cannot be reached."""
    check_url(url)
    kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT)
    kwargs.setdefault("fallback_application_name", "deskbell")
    try:
        return psycopg.connect(url, autocommit=True, **kwargs)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise StorageUnavailable(f"cannot connect to PostgreSQL ({first_line(exc)})") from None


@contextmanager
def refused(action: str) -> Iterator[None]:
    """A PostgreSQL error during `action` becomes one StorageUnavailable line."""
    try:
        yield
    except psycopg.Error as exc:
        raise StorageUnavailable(f"PostgreSQL refused the schema {action} ({first_line(exc)}); "
                                 "nothing was changed") from None


def current_schema(conn: psycopg.Connection) -> str:
    """The schema tables are read from and created in; StorageUnavailable when there is none."""
    row = conn.execute("SELECT current_schema()").fetchone()
    if row is None or row[0] is None:
        path = conn.execute("SHOW search_path").fetchone()
        raise StorageUnavailable(
            f"PostgreSQL has no schema named by search_path ({path[0] if path else '?'}); "
            "create it, or fix options=-csearch_path in the URL")
    return str(row[0])


def _has_versions(conn: psycopg.Connection, schema: str) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_tables WHERE schemaname = %s AND tablename = %s)",
        (schema, "deskbell_schema")).fetchone()
    return bool(row and row[0])


def schema_version(conn: psycopg.Connection) -> int:
    """The highest migration applied to this schema; 0 for a schema Deskbell never touched."""
    with refused("check"):
        if not _has_versions(conn, current_schema(conn)):
            return 0
        row = conn.execute("SELECT coalesce(max(version), 0) FROM deskbell_schema").fetchone()
    return int(row[0]) if row else 0


def status(conn: psycopg.Connection) -> SchemaStatus:
    with refused("status"):
        schema = current_schema(conn)
        return _status(conn, schema)


def _status(conn: psycopg.Connection, schema: str) -> SchemaStatus:
    applied: tuple[Applied, ...] = ()
    if _has_versions(conn, schema):
        rows = conn.execute(
            "SELECT version, name, applied_at FROM deskbell_schema ORDER BY version").fetchall()
        applied = tuple(Applied(int(v), str(n), at) for v, n, at in rows)
    version = max((a.version for a in applied), default=0)
    return SchemaStatus(schema, version, latest_version(), applied)


def mismatch(version: int) -> SchemaMismatch | None:
    """The one line that stops a start when the schema is not the one this code needs."""
    latest = latest_version()
    if version < latest:
        return SchemaMismatch(f"the PostgreSQL schema is at version {version}, this Deskbell "
                              f"needs {latest}: run deskbell db upgrade")
    if version > latest:
        return SchemaMismatch(f"the PostgreSQL schema is at version {version}, newer than this "
                              f"Deskbell knows ({latest}): upgrade Deskbell on this machine")
    return None


def require_current(conn: psycopg.Connection) -> None:
    problem = mismatch(schema_version(conn))
    if problem is not None:
        raise problem


def upgrade(conn: psycopg.Connection) -> tuple[Migration, ...]:
    """Apply every pending migration in one transaction, alone; returns the ones applied.

    `conn` must be in autocommit mode (as `connect` makes it), so the transaction here is a
    real one and not a savepoint inside someone else's."""
    with refused("upgrade"), conn.transaction():
        schema = current_schema(conn)
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, schema))
        conn.execute("CREATE TABLE IF NOT EXISTS deskbell_schema ("
                     " version integer PRIMARY KEY,"
                     " name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())")
        version = schema_version(conn)
        problem = mismatch(version)
        if problem is not None and version > latest_version():
            raise problem  # never step a newer schema back
        pending = tuple(m for m in migrations() if m.version > version)
        for migration in pending:
            # A migration is DDL shipped with the code (never user input): run as written.
            conn.execute(migration.sql)
            conn.execute("INSERT INTO deskbell_schema (version, name) VALUES (%s, %s)",
                         (migration.version, migration.name))
    return pending


__all__ = [
    "Applied",
    "Migration",
    "SchemaMismatch",
    "SchemaStatus",
    "check_url",
    "connect",
    "current_schema",
    "first_line",
    "latest_version",
    "migrations",
    "mismatch",
    "require_current",
    "schema_version",
    "status",
    "upgrade",
]
