"""The event vocabulary: every event type, who emits it and the data it carries, as data.

Readers use the constants (`SEARCH`, `TICKET_CREATED`...) instead of spelling a type; the widget's
events are validated from `EVENT_TYPES` (see client.py) and the store refuses a type or a data
field that is not declared here. The session id rule lives here too, for events, a ticket's trail,
the feedback endpoint and the OpenAPI spec alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from ..queries import MAX_TEXT, public_page_url

# --- the session id ----------------------------------------------------------------------------

# What static/widget/panel.js generates: "s_" and 22 characters of the URL-safe base64 alphabet.
SESSION_PATTERN: Final = "s_[A-Za-z0-9_-]{22}"
SESSION_RE: Final = re.compile(SESSION_PATTERN)
SESSION_PROBLEM: Final = "must be s_ followed by 22 letters, digits, - or _"


def is_session(value: object) -> bool:
    """True for a session id the widget could have generated."""
    return isinstance(value, str) and SESSION_RE.fullmatch(value) is not None


# --- types and their emitters ------------------------------------------------------------------

WIDGET: Final = "widget"  # sent by the visitor's browser to POST /api/v1/events
SERVER: Final = "server"  # written by the server itself

WIDGET_OPEN: Final = "widget_open"
WIDGET_CLOSE: Final = "widget_close"
SEARCH: Final = "search"
ARTICLE_VIEW: Final = "article_view"
CONTACT_OPEN: Final = "contact_open"
VOTE: Final = "vote"
TICKET_CREATED: Final = "ticket_created"

# Why a visitor voted an article not helpful (POST .../feedback `reason`; the vote's data.reason).
# Votes stored before reasons existed hold the visitor's free text in `reason` instead: readers
# take a `reason` outside this list as a comment (see vote_reason).
VOTE_REASONS: Final = ("wrong", "outdated", "unanswered", "unclear", "other")


def vote_reason(data: Mapping[str, Any]) -> tuple[str, str]:
    """(reason code or "", comment) of a vote's data, for old events (free text in `reason`)
    and new ones (`reason` a code of VOTE_REASONS, the text in `comment`) alike."""
    reason, comment = data.get("reason") or "", data.get("comment") or ""
    if reason in VOTE_REASONS:
        return reason, comment
    return "", comment or reason


# How a visitor reached an article: an article_view's source and a ticket trail's article source.
ARTICLE_SOURCES: Final = ("search", "suggestion", "link", "api")
DEFAULT_SOURCE: Final = "search"

# A checker cleans one value of a client event: (value, "events[i].name", errors) -> stored value.
# It records a problem in `errors` under that name instead of raising, so one answer names all.
Checker = Callable[[Any, str, dict[str, str]], Any]

_SLUG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.-]{0,199}")


def _text(value: Any, where: str, errors: dict[str, str], required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT or (required and not value.strip()):
        errors[where] = (f"must be a non-empty string of at most {MAX_TEXT} characters"
                         if required else f"must be a string of at most {MAX_TEXT} characters")
        return ""
    return value


def _page_url(value: Any, where: str, errors: dict[str, str]) -> str:
    return public_page_url(_text(value, where, errors, required=False))


def _slug(value: Any, where: str, errors: dict[str, str]) -> Any:
    if not isinstance(value, str) or not _SLUG_RE.fullmatch(value):
        errors[where] = "must be an article slug"
    return value


def _source(value: Any, where: str, errors: dict[str, str]) -> Any:
    if value not in ARTICLE_SOURCES:
        errors[where] = "must be one of " + ", ".join(sorted(ARTICLE_SOURCES))
    return value


@dataclass(frozen=True)
class DataField:
    """One field of an event's data: its JSON Schema and, for widget events, its checker."""

    name: str
    schema: Mapping[str, Any]
    required: bool = False  # the widget must send it (a server event always carries it)
    default: Any = None  # what a widget event that omits it is checked as
    check: Checker | None = None  # None for server events: their writer builds the data

    @property
    def checker(self) -> Checker:
        if self.check is None:
            raise TypeError(f"event field {self.name!r} has no checker (a server event field?)")
        return self.check


@dataclass(frozen=True)
class EventType:
    """One kind of event: its name, who emits it, what its data holds."""

    name: str
    emitter: str  # WIDGET or SERVER
    description: str
    fields: tuple[DataField, ...] = ()

    @property
    def field_names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)


_TEXT500 = {"type": "string", "maxLength": MAX_TEXT}
_STR = {"type": "string"}

EVENT_TYPES: Final[Mapping[str, EventType]] = MappingProxyType({t.name: t for t in (
    EventType(WIDGET_OPEN, WIDGET, "The visitor opened the panel; page_url loses its query.",
              (DataField("page_url", _TEXT500, check=_page_url),)),
    EventType(WIDGET_CLOSE, WIDGET, "The visitor closed the panel."),
    EventType(SEARCH, SERVER, "A search the server answered (the API, the widget through it, "
              "the /kb/search page; events/recorder.py): the query as normalized, how many "
              "articles it found, the ranking's confidence and the slug of the answer it "
              "quoted (\"\": none). Keystrokes of one query are recorded once.",
              (DataField("query", {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                         required=True),
               DataField("results", {"type": "integer", "minimum": 0}, required=True),
               DataField("confidence", {"type": "number", "minimum": 0, "maximum": 1}),
               DataField("answer", _STR),
               DataField("locale", _STR))),
    EventType(ARTICLE_VIEW, WIDGET, "The visitor read an article, reached from `source`.",
              (DataField("slug", {"type": "string", "pattern": f"^{_SLUG_RE.pattern}$"},
                         required=True, check=_slug),
               DataField("source", {"enum": list(ARTICLE_SOURCES)}, default=DEFAULT_SOURCE,
                         check=_source))),
    EventType(CONTACT_OPEN, WIDGET, "The visitor opened the contact form."),
    EventType(VOTE, SERVER, "Was this article helpful? (POST .../feedback; slug is canonical; reason: "
              "why not, a code of VOTE_REASONS or empty; comment: the visitor's words).",
              (DataField("slug", _STR, required=True),
               DataField("helpful", {"type": "boolean"}, required=True),
               DataField("reason", {"enum": ["", *VOTE_REASONS]}),
               DataField("comment", _STR))),
    EventType(TICKET_CREATED, SERVER, "A ticket was opened (the helpdesk), tying it to the "
              "session so insights can tell who asked after searching.",
              (DataField("reference", _STR, required=True), DataField("category", _STR))),
)})
CLIENT_TYPES: Final = frozenset(n for n, t in EVENT_TYPES.items() if t.emitter == WIDGET)
# Types that show a visitor engaged with self-service (searched or read).
ENGAGED: Final = frozenset({SEARCH, ARTICLE_VIEW})


def vocabulary_problems(kind: str, data: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with an event about to be stored: an unknown type or data field."""
    declared = EVENT_TYPES.get(kind)
    if declared is None:
        return {"type": "must be one of " + ", ".join(sorted(EVENT_TYPES))}
    return {f"data.{key}": "unknown field" for key in sorted(set(data) - declared.field_names)}


__all__ = [
    "ARTICLE_SOURCES", "ARTICLE_VIEW", "CLIENT_TYPES", "CONTACT_OPEN", "DEFAULT_SOURCE",
    "ENGAGED", "EVENT_TYPES", "SEARCH", "SERVER", "SESSION_PATTERN", "SESSION_PROBLEM",
    "SESSION_RE", "TICKET_CREATED", "VOTE", "VOTE_REASONS", "WIDGET", "WIDGET_CLOSE", "WIDGET_OPEN", "DataField", "EventType",
    "is_session", "vocabulary_problems", "vote_reason",
]
