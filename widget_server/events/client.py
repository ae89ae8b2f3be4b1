"""The widget's events (POST /api/v1/events): validated, and described, from the registry.

`parse_client_events` checks a request body strictly and strips anything personal (a page URL
loses its query string and fragment); `client_events_openapi` is the JSON Schema of that body,
written from the same declarations so the spec cannot drift from what the server accepts.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import BadRequest, ValidationFailed
from .registry import (
    CLIENT_TYPES,
    EVENT_TYPES,
    SEARCH,
    SESSION_PATTERN,
    SESSION_PROBLEM,
    WIDGET,
    EventType,
    is_session,
)
from .store import NewEvent

MAX_EVENTS_PER_REQUEST = 20


def parse_client_events(payload: Any) -> tuple[str, list[NewEvent]]:
    """Validate a POST /api/v1/events body; returns the session and the events to store.

    Raises BadRequest when the body is not an object, ValidationFailed (422) naming each bad
    field otherwise. Searches are not among them: the server records those as it answers them.
    """
    if not isinstance(payload, dict):
        raise BadRequest("expected a JSON object")
    errors: dict[str, str] = {}
    session = payload.get("session")
    if not is_session(session):
        errors["session"] = SESSION_PROBLEM
    items = payload.get("events")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_EVENTS_PER_REQUEST:
        errors["events"] = f"must be a list of 1 to {MAX_EVENTS_PER_REQUEST} events"
        items = []
    for key in set(payload) - {"session", "events"}:
        errors[key] = "unknown field"
    parsed = [_parse_event(item, f"events[{i}]", errors) for i, item in enumerate(items)]
    if errors:
        raise ValidationFailed("some events are not valid; none were stored", errors)
    return str(session), [NewEvent(str(session), kind, data) for kind, data in parsed if kind]


def _client_type(item: Any) -> EventType | None:
    name = item.get("type") if isinstance(item, dict) else None
    kind = EVENT_TYPES.get(name) if isinstance(name, str) else None
    return kind if kind is not None and kind.emitter == WIDGET else None


def _parse_event(item: Any, where: str, errors: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The event's type and cleaned data; ("", {}) when it is invalid or dropped."""
    kind = _client_type(item)
    if kind is None and isinstance(item, dict) and item.get("type") == SEARCH:
        errors[f"{where}.type"] = ("searches are recorded by the server as it answers them:"
                                   " pass session to GET /api/v1/search instead")
        return "", {}
    if kind is None:
        errors[f"{where}.type"] = "must be one of " + ", ".join(sorted(CLIENT_TYPES))
        return "", {}
    for key in set(item) - {"type", *kind.field_names}:
        errors[f"{where}.{key}"] = "unknown field"
    data = {}
    for spec in kind.fields:
        data[spec.name] = spec.checker(item.get(spec.name, spec.default), f"{where}.{spec.name}",
                                     errors)
    return kind.name, data


def client_events_openapi() -> dict[str, Any]:
    """The JSON Schema of the POST /api/v1/events request body, from the registry."""
    kinds = [_event_schema(kind) for kind in EVENT_TYPES.values() if kind.emitter == WIDGET]
    return {
        "type": "object", "required": ["session", "events"],
        "properties": {
            "session": {"type": "string", "pattern": f"^{SESSION_PATTERN}$"},
            "events": {"type": "array", "minItems": 1, "maxItems": MAX_EVENTS_PER_REQUEST,
                       "items": {"oneOf": kinds}},
        },
        "additionalProperties": False,
    }


def _event_schema(kind: EventType) -> dict[str, Any]:
    required = [spec.name for spec in kind.fields if spec.required]
    return {"type": "object", "additionalProperties": False, "required": ["type", *required],
            "properties": {"type": {"const": kind.name},
                           **{spec.name: copy.deepcopy(dict(spec.schema)) for spec in kind.fields}}}


__all__ = ["MAX_EVENTS_PER_REQUEST", "client_events_openapi", "parse_client_events"]
