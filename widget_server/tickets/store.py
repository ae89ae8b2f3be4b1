"""The TicketStore protocol: what the helpdesk needs from wherever tickets are kept.

A store keeps ticket documents (see model.py) and promises three things: a ticket `add`
returned is durable, `update` runs its change on the current ticket with no other writer in
between (across processes, for stores that processes share), and reads return copies, so a
caller can never change a stored ticket by accident. Everything a ticket *means* (statuses,
replies, ratings) lives in model.py; a store only keeps documents.

`summarize` is the reference meaning of an inbox query, for stores that filter in Python;
`touches` is the reference meaning of `tickets_touched`, the tickets a report reads.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from .model import STATUSES, SUMMARY_FIELDS, Ticket

T = TypeVar("T")
Summary = dict[str, Any]  # the model's SUMMARY_FIELDS of one ticket
OWNED_MAX = 100  # a signed visitor's list shows their newest hundred tickets
SEARCHED_FIELDS = ("reference", "name", "email", "subject", "message", "category")


@dataclass(frozen=True)
class SummaryQuery:
    """An inbox page: tickets of one status (or all), containing some text, oldest first;
    `assignee`: None for any, "" for the unassigned tickets, an agent id for that agent's."""

    status: str = ""
    text: str = ""
    newest_first: bool = False
    limit: int = 200
    assignee: str | None = None


@dataclass(frozen=True)
class Summaries:
    """One inbox page, with the per-status counts of the whole store."""

    counts: dict[str, int]
    total: int
    matched: int
    items: list[Summary] = field(default_factory=list)


class TicketStore(Protocol):
    def add(self, ticket: Ticket) -> Ticket:
        """Store a new ticket durably (its reference is renewed if already taken)."""

    def get(self, reference: str) -> Ticket | None:
        """A copy of the ticket, or None when there is no such ticket."""

    def update(self, reference: str, change: Callable[[Ticket], T]) -> tuple[Ticket, T]:
        """Apply `change` to the current ticket and store it, alone; NotFound if absent.

        When `change` raises, nothing is stored and the error reaches the caller."""

    def iter_tickets(self) -> Iterator[Ticket]:
        """Every ticket, oldest first (copies)."""

    def tickets_touched(self, since: str, until: str,
                        fields: Sequence[str] | None = None) -> Iterator[Ticket]:
        """The tickets created or rated in [since, until) (ISO times), in `iter_tickets` order
        (copies): exactly those `touches(ticket, since, until)` accepts, the tickets a report
        over that range reads (insights/report.py). With `fields`, each ticket as
        `project(ticket, fields)`: only what the reader needs leaves the store."""

    def summaries(self, query: SummaryQuery) -> Summaries:
        """One page of the inbox."""

    def count(self) -> int:
        """How many tickets are stored."""

    def tickets_of(self, email: str, user_id: str | None = None,
                   limit: int = OWNED_MAX) -> list[Summary]:
        """The summaries of one signed visitor's tickets, newest first, at most `limit`:
        exactly those `owned(ticket, email, user_id)` accepts (widget_server/identity.py)."""

    def erase_email(self, email: str) -> int:
        """Remove every ticket opened with `email` (case-insensitive), leaving no copy."""

    def check(self) -> None:
        """Raise a StorageUnavailable naming the problem if the store cannot be read."""

    def close(self) -> None:
        """Let go of what the store holds open (a pool); it cannot be used afterwards."""


def _moment(text: str) -> datetime:
    """An ISO time as an aware datetime; a naive one is UTC (as events.parse_time reads it)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def touches(ticket: Ticket, since: str, until: str) -> bool:
    """Whether `ticket` was created in [since, until) or rated in it (any of its ratings).

    Times are compared as moments, not as text, so an offset other than UTC is placed right.
    This is every ticket a report over [since, until) reads: ticket volume and response times
    count tickets created in range, satisfaction counts ratings given in range.
    """
    start, end = _moment(since), _moment(until)
    if start <= _moment(str(ticket["created_at"])) < end:
        return True
    return any(start <= _moment(str(r["at"])) < end for r in ticket.get("ratings") or [])


def project(ticket: Ticket, fields: Sequence[str] | None, *, copied: bool = True) -> Ticket:
    """`ticket` cut to `fields` (every one of them a key, None where the ticket has none);
    the whole ticket when fields is None. A deep copy unless `copied` is False (a ticket
    just read from a database is nobody else's)."""
    whole = dict(ticket) if fields is None else {name: ticket.get(name) for name in fields}
    return copy.deepcopy(whole) if copied else whole


def owned(ticket: Ticket | Summary, email: str, user_id: str | None) -> bool:
    """Whether a signed visitor owns `ticket`: the tickets opened while signed in as
    `user_id` when the site signed one, else every ticket opened with `email` (any case)."""
    if user_id is not None:
        return ticket.get("user_id") == user_id
    return str(ticket.get("email", "")).casefold() == email.casefold()


def newest_owned(rows: Iterable[Summary], email: str, user_id: str | None,
                 limit: int) -> list[Summary]:
    """The reference meaning of `tickets_of` over `rows` that carry SUMMARY_FIELDS + user_id."""
    mine = [{k: row.get(k) for k in SUMMARY_FIELDS} for row in rows
            if owned(row, email, user_id)]
    mine.sort(key=lambda row: str(row["created_at"]), reverse=True)
    return mine[:max(limit, 0)]


def _matches(row: Summary, text: str) -> bool:
    return any(text in str(row.get(name, "")).casefold() for name in SEARCHED_FIELDS)


def summarize(rows: Iterable[Summary], query: SummaryQuery) -> Summaries:
    """Filter, order and cut `rows` as `query` asks, counting every row by status (the
    counts are the whole store's, whatever the filters)."""
    counts = dict.fromkeys(STATUSES, 0)
    chosen, total, text = [], 0, query.text.casefold()
    for row in rows:
        total += 1
        counts[row["status"]] = counts.get(row["status"], 0) + 1
        if (not query.status or row["status"] == query.status) and (
                query.assignee is None or (row.get("assignee") or "") == query.assignee) and (
                not text or _matches(row, text)):
            chosen.append(row)
    chosen.sort(key=lambda row: row["created_at"], reverse=query.newest_first)
    return Summaries(counts, total, len(chosen), chosen[:query.limit])


__all__ = ["OWNED_MAX", "SummaryQuery", "Summaries", "Summary", "TicketStore", "newest_owned",
           "owned", "project", "summarize", "touches"]
