"""A ticket: its document shape, its public reference and secret token, and its state machine.

A ticket is a plain dict, because that dict is exactly what every store keeps (the JSON
store writes it as is, so changing a key is changing the on-disk format). Every change to a
ticket's status goes through this module: `parse_status` is the one place a status is
validated, and the tables below are the one place the allowed moves are written.

    new ─┐                       agent reply ──▶ the status the agent chose (default pending)
    open ├─ visitor reply ──▶ open (new stays new)      closed ── visitor reply ──▶ refused
    pending / solved ──┘      agent may set any status; solving counts a resolution
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any

from ..errors import Conflict, NotFound
from .validation import invalid

STATUSES = ("new", "open", "pending", "solved", "closed")
AGENT_REPLY_STATUS = "pending"  # an answered ticket waits on the visitor
# Where a visitor's message moves a ticket. A status missing here refuses the message:
# a closed ticket is finished, and its visitor is asked to open a new one.
VISITOR_REPLY = {"new": "new", "open": "open", "pending": "open", "solved": "open"}
# "held": an email about the ticket from an address other than its visitor's, shown to agents
# only until one accepts it as the visitor's message (accept_held).
AUTHORS = ("visitor", "agent", "note", "held")
SUMMARY_FIELDS = ("reference", "status", "name", "email", "subject", "message", "category",
                  "created_at", "updated_at", "first_reply_at", "solved_at", "assignee")
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U

Ticket = dict[str, Any]


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def new_reference() -> str:
    """A public reference like DB-7K3Q-M9XP-2W4H: 60 random bits, unrelated to storage ids."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"DB-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(ticket: Ticket | None, token: str) -> bool:
    """Constant-time check; a missing ticket still costs a comparison (same answer, same time)."""
    expected = ticket["token_hash"] if ticket else "0" * 64
    return hmac.compare_digest(expected, hash_token(token)) and ticket is not None


def parse_status(value: Any) -> str:
    """The status named by `value`, or ValidationFailed listing the valid ones."""
    if value not in STATUSES:
        raise invalid({"status": f"must be one of {', '.join(STATUSES)}"})
    return str(value)


def new_ticket(fields: dict[str, Any], category: str = "",
               attachments: list[dict[str, Any]] | None = None) -> tuple[Ticket, str]:
    """A fresh ticket document and its secret token (shown once, only the hash is stored);
    `attachments` are the first message's descriptors (attachments.py)."""
    token = secrets.token_urlsafe(32)
    at = now_iso()
    page_url = fields["page_url"] or fields["trail"].get("page_url", "")
    ticket: Ticket = {
        "reference": new_reference(), "token_hash": hash_token(token),
        "name": fields["name"], "email": fields["email"], "subject": fields["subject"],
        "message": fields["message"], "page_url": page_url, "category": category,
        "locale": fields["locale"], "trail": fields["trail"], "status": "new",
        "created_at": at, "updated_at": at, "first_reply_at": None, "solved_at": None,
        "closed_at": None, "resolution_count": 0, "ratings": [],
        "thread": [_entry("visitor", fields["name"], fields["message"], at, attachments)],
    }
    return ticket, token


def _entry(author: str, author_name: str, body: str, at: str,
           attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A thread entry; `attachments` (descriptors {id, name, type, size, sha256}) only when
    there are some, so entries without files keep their old shape."""
    entry: dict[str, Any] = {"id": secrets.token_hex(6), "author": author,
                             "author_name": author_name, "body": body, "at": at}
    if attachments:
        entry["attachments"] = [dict(a) for a in attachments]
    return entry


def _move(ticket: Ticket, status: str, at: str) -> None:
    if status == "solved" and ticket["status"] != "solved":
        ticket["resolution_count"] += 1
        ticket["solved_at"] = at
    if status == "closed" and ticket["status"] != "closed":
        ticket["closed_at"] = at
    ticket["status"] = status


def set_status(ticket: Ticket, status: Any) -> None:
    """An agent sets any status; solving again counts a new resolution (and a new rating)."""
    at = now_iso()
    _move(ticket, parse_status(status), at)
    ticket["updated_at"] = at


def add_reply(ticket: Ticket, author: str, author_name: str, body: str,
              status: str | None = None,
              attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Append a message (with its files' descriptors, if any). Agent replies start the
    first-response clock; notes change nothing unless a status is given."""
    at = now_iso()
    entry = _entry(author, author_name, body, at, attachments)
    if author == "visitor":
        if ticket["status"] not in VISITOR_REPLY:
            raise Conflict("this ticket is closed; please open a new one")
        ticket["status"] = VISITOR_REPLY[ticket["status"]]
    elif author == "agent":
        ticket["first_reply_at"] = ticket["first_reply_at"] or at
        _move(ticket, parse_status(status or AGENT_REPLY_STATUS), at)
    elif status:
        _move(ticket, parse_status(status), at)
    ticket["thread"].append(entry)
    ticket["updated_at"] = at
    return entry


def accept_held(ticket: Ticket, entry_id: str) -> dict[str, Any]:
    """A held entry becomes the visitor's message, moving the ticket as a visitor's reply does
    (a closed ticket refuses it). NotFound when no held entry has this id."""
    entry: dict[str, Any] | None = next((e for e in ticket["thread"]
                                         if e["id"] == entry_id and e["author"] == "held"), None)
    if entry is None:
        raise NotFound("No held message with this id on this ticket")
    if ticket["status"] not in VISITOR_REPLY:
        raise Conflict("this ticket is closed; reopen it first")
    ticket["status"] = VISITOR_REPLY[ticket["status"]]
    entry["author"] = "visitor"
    entry["accepted_at"] = ticket["updated_at"] = now_iso()
    return entry


def assign(ticket: Ticket, assignee: str | None, by: str | None = None,
           by_name: str | None = None, assignee_name: str | None = None) -> dict[str, Any]:
    """Give the ticket to the agent `assignee` (an agent id), or to nobody (None), recording
    who did it in the ticket's history. A ticket without the `assignee` key is unassigned
    (tickets from before assignment existed read so). Returns the history entry."""
    at = now_iso()
    ticket["assignee"] = assignee
    ticket["assigned_at"] = at if assignee else None
    entry: dict[str, Any] = {"kind": "assigned" if assignee else "unassigned", "at": at,
                             "agent_id": by, "agent_name": by_name or "",
                             "assignee": assignee, "assignee_name": assignee_name or ""}
    ticket.setdefault("history", []).append(entry)
    return entry


def record_status(ticket: Ticket, before: str, by: str | None, by_name: str | None) -> None:
    """A status change in the ticket's history (agent and time), when the status changed."""
    if ticket["status"] != before:
        ticket.setdefault("history", []).append(
            {"kind": "status", "at": ticket["updated_at"], "agent_id": by,
             "agent_name": by_name or "", "from": before, "to": ticket["status"]})


def seen_mark(ticket: Ticket) -> int:
    """What an agent has seen of a ticket: how many messages its thread holds. A reply form
    carries it; a reply sent with fewer than there are now was written before someone else
    replied, noted or the visitor wrote."""
    return len(ticket.get("thread") or [])


def can_rate(ticket: Ticket) -> bool:
    """Once per resolution: a solved ticket not yet rated since it was last solved."""
    current = ticket["resolution_count"]
    rated = any(r["resolution"] == current for r in ticket["ratings"])
    return ticket["status"] == "solved" and not rated


def add_rating(ticket: Ticket, rating: dict[str, Any]) -> dict[str, Any]:
    if not can_rate(ticket):
        raise Conflict("this ticket can be rated once each time it is solved")
    stored = {**rating, "at": now_iso(), "resolution": ticket["resolution_count"]}
    ticket["ratings"].append(stored)
    return stored


__all__ = [
    "AGENT_REPLY_STATUS",
    "STATUSES",
    "SUMMARY_FIELDS",
    "Ticket",
    "accept_held",
    "add_rating",
    "add_reply",
    "assign",
    "can_rate",
    "hash_token",
    "new_reference",
    "new_ticket",
    "now_iso",
    "parse_status",
    "record_status",
    "seen_mark",
    "set_status",
    "token_matches",
]
