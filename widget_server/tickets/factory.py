"""The one place that turns the `ticket_store` and `event_store` settings into stores.

Each kind of store is one branch here; the rest of Deskbell only sees the protocols
(tickets/store.py TicketStore, events/protocol.py EventStore). The PostgreSQL stores are
imported only when a setting names one, so the default install needs neither psycopg nor a
database server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import StorageUnavailable
from ..events.protocol import EventStore
from ..events.store import JSONEventStore, MemoryEventStore
from ..settings import POSTGRES_SCHEMES, Settings, SettingsError
from .json_store import JSONTicketStore
from .memory import MemoryTicketStore
from .store import TicketStore

T = TypeVar("T")


class StoreSettingError(SettingsError, StorageUnavailable):
    """A store setting (`ticket_store`, `event_store`) names a store that cannot be opened
    (PostgreSQL unreachable, a bad URL, a schema behind the code). A SettingsError, one line
    naming the setting; also a StorageUnavailable, so every command that reports store errors
    prints it as one line."""

    def __init__(self, message: str, setting: str = "ticket_store") -> None:
        StorageUnavailable.__init__(self, f"setting {setting}: {message}")


def open_ticket_store(settings: Settings) -> TicketStore:
    """The store `settings.ticket_store` names, opened and checked (CorruptStore names a bad
    file, StoreSettingError an unusable database, so a server never starts over either)."""
    kind = settings.ticket_store
    if kind == "json":
        return JSONTicketStore(settings.data_dir)
    if kind == "memory":
        return MemoryTicketStore()
    if kind.startswith(POSTGRES_SCHEMES):
        return open_postgres_store(kind)
    raise SettingsError(f"setting ticket_store: unknown store {kind!r}")


def open_beside_tickets(settings: Settings, json: Callable[[Path], T], memory: Callable[[], T],
                        postgres: Callable[[], Callable[[str], T]]) -> T:
    """A store kept beside the tickets (notices, the team), of the kind `ticket_store` names:
    `json(data_dir)`, `memory()`, or `postgres()(url)`, where `postgres` imports the
    PostgreSQL module only when a URL asks for it. StoreSettingError says why PostgreSQL
    cannot be used."""
    kind = settings.ticket_store
    if kind == "json":
        return json(Path(settings.data_dir))
    if kind == "memory":
        return memory()
    if kind.startswith(POSTGRES_SCHEMES):
        try:
            opener = postgres()
        except ImportError as exc:
            raise _postgres_missing(exc, "ticket_store") from None
        try:
            return opener(kind)
        except StorageUnavailable as exc:
            raise StoreSettingError(exc.message) from None
    raise SettingsError(f"setting ticket_store: unknown store {kind!r}")


def _postgres_missing(exc: ImportError, setting: str) -> StoreSettingError:
    return StoreSettingError(f"PostgreSQL needs the postgresql extra, pip install "
                             f"'deskbell[postgresql]' ({exc})", setting)


def open_postgres_store(url: str) -> TicketStore:
    """The PostgreSQL store at `url`, its schema checked; StoreSettingError says why not."""
    try:
        from .postgres import PostgresTicketStore
    except ImportError as exc:
        raise _postgres_missing(exc, "ticket_store") from None
    try:
        return PostgresTicketStore(url)
    except StorageUnavailable as exc:
        raise StoreSettingError(exc.message) from None


def open_event_store(settings: Settings) -> EventStore:
    """The store `settings.event_store` names, with events_retention_days and
    events_max_day_mb, opened (retention applied) and checked; StoreSettingError names an
    unusable database, so a server never starts without its events."""
    kind = settings.event_store
    retention = settings.events_retention_days
    cap = settings.events_max_day_mb * 1024 * 1024
    if kind == "json":
        return JSONEventStore(settings.data_dir, retention, cap)
    if kind == "memory":
        return MemoryEventStore(retention, cap)
    if kind.startswith(POSTGRES_SCHEMES):
        return open_postgres_event_store(kind, retention_days=retention, max_day_bytes=cap)
    raise SettingsError(f"setting event_store: unknown store {kind!r}")


def open_postgres_event_store(url: str, **options: Any) -> EventStore:
    """The PostgreSQL event store at `url` (options: PostgresEventStore's), its schema
    checked; StoreSettingError says why not."""
    try:
        from ..events.postgres import PostgresEventStore
    except ImportError as exc:
        raise _postgres_missing(exc, "event_store") from None
    try:
        return PostgresEventStore(url, **options)
    except StorageUnavailable as exc:
        raise StoreSettingError(exc.message, "event_store") from None


__all__ = ["StoreSettingError", "open_event_store", "open_postgres_event_store",
           "open_postgres_store", "open_ticket_store"]
