"""Each JSON request body declared once, as data: it validates and it writes the OpenAPI schema.

    RATING.validate(body)  -> the cleaned fields, or one ValidationFailed (422) whose details
                              name every wrong field and whose message names the first
    RATING.schema()        -> the JSON Schema served in /openapi.json

A field is a small object with `clean(value, where)` (built on the text rules in
tickets/validation.py) and `schema()`, so the spec cannot drift from what the server accepts:
the schemathesis run in the suite fuzzes the server against the generated spec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import ValidationFailed
from .events import ARTICLE_SOURCES, SESSION_PATTERN, SESSION_PROBLEM
from .events.registry import VOTE_REASONS
from .tickets.validation import (
    EMAIL_PATTERN,
    LOCALE_PATTERN,
    MESSAGE_MAX,
    MIN_FILL_MS,
    TRAIL_SESSION,
    clean_email,
    clean_locale,
    clean_text,
    clean_trail,
    clean_url,
    invalid,
    whole,
)

# What clean_text refuses, as JSON Schema patterns: control characters (C0, DEL, C1), and
# text that is only blank space when the field is required. Multi-line text keeps tabs and
# line breaks.
_CONTROL = "\\u0000-\\u001f\\u007f-\\u009f"
NO_CONTROL = f"^[^{_CONTROL}]*$"
LINE = f"^[^{_CONTROL}]*[^\\s{_CONTROL}][^{_CONTROL}]*$"
_TEXT_CHAR = "[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]"
TEXT = f"^{_TEXT_CHAR}*[^\\s{_CONTROL}]{_TEXT_CHAR}*$"
ANY_TEXT = f"^{_TEXT_CHAR}*$"
HTTP_URL = f"^(?:[Hh][Tt][Tt][Pp][Ss]?://[^{_CONTROL}]*)?$"


class Field(Protocol):
    def clean(self, value: Any, where: str) -> Any:
        """The cleaned value, or ValidationFailed naming `where`."""

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of what `clean` accepts."""


@dataclass(frozen=True)
class Text:
    """NFC text of lo..hi characters (after trimming), no control characters."""

    lo: int
    hi: int
    multiline: bool = False

    def clean(self, value: Any, where: str) -> str:
        return clean_text(value, where, self.lo, self.hi, multiline=self.multiline)

    def schema(self) -> dict[str, Any]:
        if self.multiline:
            pattern = TEXT if self.lo else ANY_TEXT
        else:
            pattern = LINE if self.lo else NO_CONTROL
        bounds = {"minLength": self.lo} if self.lo else {}
        return {"type": "string", **bounds, "maxLength": self.hi, "pattern": pattern}


@dataclass(frozen=True)
class Email:
    def clean(self, value: Any, where: str) -> str:
        return clean_email(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "email", "maxLength": 254, "pattern": EMAIL_PATTERN}


@dataclass(frozen=True)
class Url:
    """An http(s) URL, or nothing."""

    def clean(self, value: Any, where: str) -> str:
        return clean_url(value or "", where)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": 2000, "pattern": HTTP_URL}


@dataclass(frozen=True)
class Locale:
    def clean(self, value: Any, where: str) -> str:
        return clean_locale(value or "en", where)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": 35, "pattern": LOCALE_PATTERN}


@dataclass(frozen=True)
class Whole:
    """A whole number lo..hi (JSON's 7.0 counts, as JSON Schema says)."""

    lo: int
    hi: int

    def clean(self, value: Any, where: str) -> int:
        number = whole(value)
        if number is None or not self.lo <= number <= self.hi:
            raise invalid({where: f"must be a whole number from {self.lo} to {self.hi}"})
        return number

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.lo, "maximum": self.hi}


@dataclass(frozen=True)
class Flag:
    def clean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise invalid({where: "expected true or false"})
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Pattern:
    """A string matching `regex` exactly, e.g. a widget session id."""

    regex: str
    problem: str

    def clean(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not re.fullmatch(self.regex, value):
            raise invalid({where: self.problem})
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^{self.regex}$"}


@dataclass(frozen=True)
class FillTime:
    """How long the form was open, in milliseconds; a bot fills it faster than a person."""

    def clean(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid({where: "must be a number"})
        if value < MIN_FILL_MS:
            raise ValidationFailed("form submitted too fast", {where: "too fast"})
        return float(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "number", "minimum": MIN_FILL_MS,
                "description": "How long the form was open; faster is refused."}


@dataclass(frozen=True)
class Honeypot:
    """A field people never see; the helpdesk answers a filled one as if all went well."""

    def clean(self, value: Any, where: str) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "description": "Honeypot: leave empty."}


@dataclass(frozen=True)
class Trail:
    """What the visitor tried before writing (see tickets/validation.clean_trail)."""

    session_pattern: str

    def clean(self, value: Any, where: str) -> dict[str, Any]:
        return clean_trail(value)

    def schema(self) -> dict[str, Any]:
        short = Text(0, 500)
        at = {"type": "string", "format": "date-time"}

        def items(**fields: Any) -> dict[str, Any]:
            return {"type": "array", "maxItems": 50, "items": {
                "type": "object", "additionalProperties": False, "properties": fields}}

        return {
            "type": "object",
            "description": "What the visitor tried before writing: searches, articles, votes.",
            "additionalProperties": False,
            "properties": {
                "session": {"type": "string", "pattern": f"^(?:{self.session_pattern})?$"},
                "page_url": Url().schema(),
                "searches": items(q=short.schema(), results=Whole(0, 10**9).schema(), at=at),
                "articles": items(slug=short.schema(), title=short.schema(), at=at,
                                  source={"enum": list(ARTICLE_SOURCES)}),
                "votes": items(slug=short.schema(), helpful=Flag().schema(), at=at),
            },
        }


@dataclass(frozen=True)
class Claim:
    """A signed visitor identity as the page passed it (widget_server/identity.py): only its
    shape is checked here; whether its signature holds is the helpdesk's question, and a
    claim that fails is no identity, not an error."""

    PARTS = ("email", "name", "user_id", "signature")

    def clean(self, value: Any, where: str) -> dict[str, str]:
        if not isinstance(value, dict):
            raise invalid({where: "must be an object with email, name, user_id and signature"})
        for key, part in value.items():
            if key not in self.PARTS:
                raise invalid({f"{where}.{key}": "unknown field"})
            if part is not None and not isinstance(part, str):
                raise invalid({f"{where}.{key}": "must be a string"})
        return {k: v for k, v in value.items() if v is not None}

    def schema(self) -> dict[str, Any]:
        text = {"type": "string", "maxLength": 256}
        return {"type": "object", "additionalProperties": False,
                "description": "Who the site says the visitor is: signature = hex "
                               "HMAC-SHA256(identity_secret, user_id or email). A claim "
                               "that does not verify is treated as no identity.",
                "properties": {name: text for name in self.PARTS}}


@dataclass(frozen=True)
class Body:
    """A JSON object body: its fields in the order they are checked, and which are required.

    Unknown fields are refused. Every wrong field is reported; the message names the first."""

    fields: Mapping[str, Field]
    required: frozenset[str] = field(default_factory=frozenset)
    defaults: Mapping[str, Any] = field(default_factory=dict)  # cleaned in place of absent ones

    def validate(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise invalid({"body": "must be a JSON object"})
        details: dict[str, str] = {}
        first: ValidationFailed | None = None
        cleaned: dict[str, Any] = {}
        for name in sorted(data.keys() - self.fields.keys()):
            details[name] = "unknown field"
        for name, kind in self.fields.items():
            value = data.get(name)
            if value is None:
                if name in self.required:
                    details.setdefault(name, "is required")
                if name not in self.defaults:
                    continue
                value = self.defaults[name]
                if value is None:
                    cleaned[name] = None
                    continue
            try:
                cleaned[name] = kind.clean(value, name)
            except ValidationFailed as exc:
                first = first or exc
                for where, problem in (exc.details or {name: exc.message}).items():
                    details.setdefault(where, problem)
        if details:
            where, problem = next(iter(details.items()))
            if first is not None and where in (first.details or {}):
                raise ValidationFailed(first.message, details)
            raise ValidationFailed(f"{where}: {problem}", details)
        return cleaned

    def schema(self) -> dict[str, Any]:
        declared: dict[str, Any] = {"type": "object", "additionalProperties": False}
        if self.required:
            declared["required"] = [name for name in self.fields if name in self.required]
        declared["properties"] = {name: kind.schema() for name, kind in self.fields.items()}
        return declared


# -- the bodies of Deskbell's public API

NEW_TICKET = Body(
    {"elapsed_ms": FillTime(), "website": Honeypot(), "locale": Locale(),
     "name": Text(1, 100), "email": Email(), "subject": Text(1, 200),
     "message": Text(1, MESSAGE_MAX, multiline=True), "page_url": Url(),
     "trail": Trail(TRAIL_SESSION), "identity": Claim()},
    frozenset({"name", "email", "subject", "message"}),
    {"locale": "en", "page_url": "", "trail": {}, "identity": None},
)
MESSAGE = Body({"body": Text(1, MESSAGE_MAX, multiline=True)}, frozenset({"body"}))
RATING = Body(
    {"csat": Whole(1, 5), "ces": Whole(1, 7), "nps": Whole(0, 10),
     "comment": Text(0, 2000, multiline=True)},
    frozenset({"csat"}),
    {"ces": None, "nps": None, "comment": ""},
)


@dataclass(frozen=True)
class Choice:
    """One of a few fixed strings (an enum), e.g. why an article did not help."""

    choices: tuple[str, ...]

    def clean(self, value: Any, where: str) -> str:
        if value not in self.choices:
            raise invalid({where: "must be one of " + ", ".join(self.choices)})
        return str(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.choices)}


# What a page asks with Deskbell('identify', ...) signed: which tickets are this visitor's.
IDENTITY = Body({"identity": Claim()}, frozenset({"identity"}))

# A "not helpful" vote may say why (`reason`, one of VOTE_REASONS) and add a comment; the vote
# event stores both (data.reason the code, data.comment the text: registry.vote_reason).
FEEDBACK = Body(
    {"helpful": Flag(), "reason": Choice(VOTE_REASONS), "comment": Text(0, 1000, multiline=True),
     "session": Pattern(SESSION_PATTERN, SESSION_PROBLEM)},
    frozenset({"helpful"}),
    {"comment": "", "session": None, "reason": None},
)


__all__ = ["FEEDBACK", "IDENTITY", "Choice", "Claim", "MESSAGE", "NEW_TICKET", "RATING", "Body", "Email", "Field", "FillTime", "Flag", "Honeypot", "Locale", "Pattern",
           "Text", "Trail", "Url", "Whole"]
