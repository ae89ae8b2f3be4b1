"""The one place that turns the `ticket_store` setting into a TicketStore.

Each kind of store is one branch here; the rest of Deskbell only sees the protocol. The
PostgreSQL store is imported only when the setting names it, so the default install needs
neither psycopg nor a database server.
"""

from __future__ import annotations

from ..errors import StorageUnavailable
from ..settings import POSTGRES_SCHEMES, Settings, SettingsError
from .json_store import JSONTicketStore
from .memory import MemoryTicketStore
from .store import TicketStore


class StoreSettingError(SettingsError, StorageUnavailable):
    """The `ticket_store` setting names a store that cannot be opened (PostgreSQL unreachable,
    a bad URL, a schema behind the code). A SettingsError, one line naming the setting; also
    a StorageUnavailable, so every command that reports store errors prints it as one line."""

    def __init__(self, message: str) -> None:
        StorageUnavailable.__init__(self, f"setting ticket_store: {message}")


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


def open_postgres_store(url: str) -> TicketStore:
    """The PostgreSQL store at `url`, its schema checked; StoreSettingError says why not."""
    try:
        from .postgres import PostgresTicketStore
    except ImportError as exc:
        raise StoreSettingError(
            f"PostgreSQL needs the postgresql extra, pip install 'deskbell[postgresql]' "
            f"({exc})") from None
    try:
        return PostgresTicketStore(url)
    except StorageUnavailable as exc:
        raise StoreSettingError(exc.message) from None


__all__ = ["StoreSettingError", "open_postgres_store", "open_ticket_store"]
