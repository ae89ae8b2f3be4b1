"""MemoryTicketStore: tickets in a dict, for tests and demos, and the TicketStore reference.

It keeps every promise of the protocol inside one process (copies in and out, one writer at
a time) and none across processes or restarts: everything is gone when the process ends.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from ..errors import NotFound
from .model import SUMMARY_FIELDS, Ticket, new_reference
from .store import (
    OWNED_MAX,
    Summaries,
    Summary,
    SummaryQuery,
    newest_owned,
    project,
    summarize,
    touches,
)

T = TypeVar("T")


class MemoryTicketStore:
    def __init__(self) -> None:
        self._tickets: dict[str, Ticket] = {}  # insertion order is creation order
        self._lock = threading.Lock()  # the server runs store calls on worker threads

    def add(self, ticket: Ticket) -> Ticket:
        with self._lock:
            while ticket["reference"] in self._tickets:
                ticket["reference"] = new_reference()
            self._tickets[ticket["reference"]] = copy.deepcopy(ticket)
        return ticket

    def get(self, reference: str) -> Ticket | None:
        found = self._tickets.get(reference) if isinstance(reference, str) else None
        return copy.deepcopy(found) if found is not None else None

    def update(self, reference: str, change: Callable[[Ticket], T]) -> tuple[Ticket, T]:
        with self._lock:
            if reference not in self._tickets:
                raise NotFound("no such ticket")
            ticket = copy.deepcopy(self._tickets[reference])
            result = change(ticket)  # raises before anything is stored
            self._tickets[reference] = copy.deepcopy(ticket)
        return ticket, result

    def iter_tickets(self) -> Iterator[Ticket]:
        for ticket in list(self._tickets.values()):
            yield copy.deepcopy(ticket)

    def tickets_touched(self, since: str, until: str,
                        fields: Sequence[str] | None = None) -> Iterator[Ticket]:
        for ticket in list(self._tickets.values()):
            if touches(ticket, since, until):
                yield project(ticket, fields)

    def summaries(self, query: SummaryQuery) -> Summaries:
        rows: list[Summary] = [{k: t.get(k) for k in SUMMARY_FIELDS}
                               for t in list(self._tickets.values())]
        return summarize(rows, query)

    def count(self) -> int:
        return len(self._tickets)

    def tickets_of(self, email: str, user_id: str | None = None,
                   limit: int = OWNED_MAX) -> list[Summary]:
        return newest_owned(list(self._tickets.values()), email, user_id, limit)

    def erase_email(self, email: str) -> int:
        wanted = email.strip().casefold()
        with self._lock:
            gone = [ref for ref, t in self._tickets.items()
                    if str(t.get("email", "")).casefold() == wanted]
            for reference in gone:
                del self._tickets[reference]
        return len(gone)

    def check(self) -> None:
        """Memory is always readable."""

    def close(self) -> None:
        """Nothing is held open."""


__all__ = ["MemoryTicketStore"]
