"""Tickets: the model and its state machine, visitor-input validation, and the stores.

    model.py       Ticket documents, references and tokens, statuses and their moves
    validation.py  what a visitor sends, cleaned or refused with the field named
    store.py       the TicketStore protocol and the meaning of an inbox query
    memory.py      MemoryTicketStore (tests, demos, the reference implementation)
    json_store.py  JSONTicketStore: partitioned TinyDB-shaped JSON under <data_dir>/tickets
    files.py       the JSON store's durable files and its typed disk errors
    postgres.py    PostgresTicketStore: a table shared by every machine (imported on demand)
    pg_schema.py   its versioned migrations: `deskbell db upgrade` and `deskbell db status`
    factory.py     open_ticket_store(settings): the `ticket_store` setting made a store

postgres.py and pg_schema.py need the `postgresql` extra (psycopg) and are not imported here.
"""

from __future__ import annotations

from .factory import StoreSettingError, open_ticket_store
from .files import CorruptStore, StoreFull, StoreUnwritable
from .json_store import JSONTicketStore
from .memory import MemoryTicketStore
from .model import (
    STATUSES,
    Ticket,
    add_rating,
    add_reply,
    can_rate,
    hash_token,
    new_reference,
    new_ticket,
    now_iso,
    parse_status,
    set_status,
    token_matches,
)
from .store import Summaries, SummaryQuery, TicketStore
from .validation import (
    EMAIL_PATTERN,
    clean_email,
    clean_text,
    is_spam_trap,
)

__all__ = [
    "EMAIL_PATTERN",
    "STATUSES",
    "CorruptStore",
    "JSONTicketStore",
    "MemoryTicketStore",
    "StoreFull",
    "StoreSettingError",
    "StoreUnwritable",
    "Summaries",
    "SummaryQuery",
    "Ticket",
    "TicketStore",
    "add_rating",
    "add_reply",
    "can_rate",
    "clean_email",
    "clean_text",
    "hash_token",
    "is_spam_trap",
    "new_reference",
    "new_ticket",
    "now_iso",
    "open_ticket_store",
    "parse_status",
    "set_status",
    "token_matches",
]
