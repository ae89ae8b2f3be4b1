"""The one place that turns the `ticket_store` setting into a TicketStore.

Each kind of store is one branch here; the rest of Deskbell only sees the protocol.
"""

from __future__ import annotations

from ..settings import Settings, SettingsError
from .json_store import JSONTicketStore
from .memory import MemoryTicketStore
from .store import TicketStore


def open_ticket_store(settings: Settings) -> TicketStore:
    """The store `settings.ticket_store` names, opened and checked (CorruptStore names a bad
    file, so a server never starts over a damaged store)."""
    kind = settings.ticket_store
    if kind == "json":
        return JSONTicketStore(settings.data_dir)
    if kind == "memory":
        return MemoryTicketStore()
    raise SettingsError(f"setting ticket_store: unknown store {kind!r}")


__all__ = ["open_ticket_store"]
