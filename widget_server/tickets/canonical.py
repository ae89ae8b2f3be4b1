"""A ticket's keys in one order, whatever store it was read from.

The JSON store keeps a ticket's keys in the order they were first written, which depends on
what happened to it (assigned before or after its first reply, say); PostgreSQL's JSONB keeps
its own order. Key order means nothing to either, but exports and `deskbell tickets show`
print tickets, and the same tickets must print the same from any store. `canonical` puts every
object's keys in the order of `model_ticket()`, a ticket the model itself builds holding every
key it writes; keys the model does not know follow, sorted.

Not imported by the package __init__: it builds a ticket through the schemas, which import the
package.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ..schemas import RATING
from . import model
from .model import Ticket
from .validation import clean_trail


@cache
def model_ticket() -> Ticket:
    """A ticket holding every key the model and the helpdesk write, in their order: signed,
    replied to by an agent with a file, solved, assigned, rated, then a held email accepted."""
    at = "2026-01-01T00:00:00+00:00"
    trail = clean_trail({
        "session": "s_" + "a" * 22, "page_url": "https://shop.example/",
        "searches": [{"q": "q", "results": 1, "at": at}],
        "articles": [{"slug": "a", "title": "t", "source": "search", "at": at}],
        "votes": [{"slug": "a", "helpful": True, "at": at}],
    })
    files = [{"id": "f", "name": "n.png", "type": "image/png", "size": 1, "sha256": "0" * 64}]
    ticket, _ = model.new_ticket({"name": "n", "email": "e@example.com", "subject": "s",
                                  "message": "m", "page_url": "", "locale": "en",
                                  "trail": trail}, "c", files)
    ticket["thread"][0]["mail_id"] = "<m@example.com>"
    ticket["user_id"], ticket["signed_by"] = "u", "user_id"
    before = ticket["status"]
    entry = model.add_reply(ticket, "agent", "a", "b", "solved", files)
    entry["agent_id"], entry["agent_name"] = "agent-id", "A"
    ticket["status_by"] = ticket["first_reply_by"] = ticket["solved_by"] = "agent-id"
    model.record_status(ticket, before, "agent-id", "A")
    model.assign(ticket, "agent-id", "agent-id", "A", "A")
    model.add_rating(ticket, {**RATING.validate({"csat": 5, "ces": 1, "nps": 9, "comment": "c"}),
                              "agent_id": "agent-id"})
    held = model.add_reply(ticket, "held", "x@example.com", "b")
    held["mail_id"] = "<h@example.com>"
    model.accept_held(ticket, held["id"])
    return ticket


def _item_model(items: list[Any]) -> Any:
    """One model for every item of a list: the keys of all its objects, first seen first
    (a history holds status changes and assignments, each with keys of its own)."""
    if not all(isinstance(item, dict) for item in items):
        return items[0]
    merged: dict[str, Any] = {}
    for item in items:
        for key, value in item.items():
            merged.setdefault(key, value)
    return merged


def in_model_order(value: Any, shape: Any) -> Any:
    """`value` with every object's keys in `shape`'s order; keys `shape` lacks follow, sorted."""
    if isinstance(value, dict) and isinstance(shape, dict):
        ordered = {key: in_model_order(value[key], shape[key]) for key in shape if key in value}
        ordered.update((key, value[key]) for key in sorted(value) if key not in shape)
        return ordered
    if isinstance(value, list) and isinstance(shape, list) and shape:
        item = _item_model(shape)
        return [in_model_order(element, item) for element in value]
    return value


def canonical(ticket: Ticket) -> Ticket:
    return dict(in_model_order(ticket, model_ticket()))


__all__ = ["canonical", "in_model_order", "model_ticket"]
