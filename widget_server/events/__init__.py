"""Self-service events: one vocabulary (registry.py), the widget's batches (client.py), the store.

    registry.py  every event type: its name, who emits it (widget or server), its data fields
                 and their checks; the constants readers use (SEARCH, TICKET_CREATED...); the
                 one session id rule (SESSION_RE, is_session)
    client.py    POST /api/v1/events: parse_client_events (422 naming every bad field) and
                 client_events_openapi (the body's JSON Schema, from the same declarations)
    protocol.py  EventStore, what every event store does (append, append_many, iter_events,
                 retention...), and the one way an event is checked and written (encode)
    store.py     JSONEventStore (the default): JSON lines per UTC day under <data_dir>/events,
                 kept for events_retention_days; MemoryEventStore (tests and demos)
    postgres.py  PostgresEventStore: a table shared by every machine (imported on demand)

The `event_store` setting chooses one (tickets/factory.py, open_event_store). EventStore is
the type everything else names; EventStore(data_dir, ...) itself still opens the JSON store.

Two records of what a visitor did, and which one is the truth for what
----------------------------------------------------------------------

Events are anonymous, per help session, and deleted after `events_retention_days`. They are the
source for aggregate insights (self-service rate, search success, content gaps, spikes), which
need every session, including the many that never ask anything.

A ticket's `trail` is what that visitor did before asking (searches, articles read, votes, the
page), sent by the widget with the ticket and validated with the same vocabulary: the same
session id rule, the same article sources. It lives as long as the ticket, because the agent
answering a ticket a year from now still needs it, long after the events are gone; rebuilding it
from events at read time would lose it at retention, and copying events into it at write time
would add nothing the widget did not already send. So the ticket keeps its trail and never reads
events; insights read events and never read trails.

What ties the two is the session id: the helpdesk writes a `ticket_created` event carrying the
trail's session and the ticket's reference, so insights can tell which sessions ended in a
ticket while their events are kept. For that the trail's session must be one the event store
accepts: the trail used to take `s_` + 8 to 64 characters while events took exactly 22, so a
ticket could be stored claiming a session no event can carry, and its `ticket_created` event was
then written without any session, silently unlinked. A trail now takes exactly the widget's
shape (or none) and refuses any other with a 422 naming `trail.session`. Tickets stored before keep whatever they
carry: stored tickets are never validated again, and the helpdesk only copies a session id to an
event when `is_session` accepts it.
"""

from __future__ import annotations

from .client import MAX_EVENTS_PER_REQUEST, client_events_openapi, parse_client_events
from .protocol import (
    MAX_EVENT_BYTES,
    Event,
    EventsFull,
    EventStore,
    NewEvent,
    event_key,
    parse_time,
    utc_now,
)
from .registry import (
    ARTICLE_SOURCES,
    ARTICLE_VIEW,
    CLIENT_TYPES,
    CONTACT_OPEN,
    ENGAGED,
    EVENT_TYPES,
    SEARCH,
    SERVER,
    SESSION_PATTERN,
    SESSION_PROBLEM,
    SESSION_RE,
    TICKET_CREATED,
    VOTE,
    WIDGET,
    WIDGET_CLOSE,
    WIDGET_OPEN,
    DataField,
    EventType,
    is_session,
)
from .store import JSONEventStore, MemoryEventStore

__all__ = [
    "ARTICLE_SOURCES", "ARTICLE_VIEW", "CLIENT_TYPES", "CONTACT_OPEN", "ENGAGED", "EVENT_TYPES",
    "MAX_EVENTS_PER_REQUEST", "MAX_EVENT_BYTES", "SEARCH", "SERVER", "SESSION_PATTERN",
    "SESSION_PROBLEM", "SESSION_RE", "TICKET_CREATED", "VOTE", "WIDGET", "WIDGET_CLOSE", "WIDGET_OPEN",
    "DataField", "Event", "EventStore", "EventType", "EventsFull", "JSONEventStore",
    "MemoryEventStore", "NewEvent", "client_events_openapi", "event_key", "is_session",
    "parse_client_events", "parse_time", "utc_now",
]
