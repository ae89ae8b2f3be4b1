"""What a visitor sends about tickets, checked: text, email, URLs, the self-service trail, ratings.

Every function returns cleaned values or raises ValidationFailed naming the field, so one
422 tells the visitor exactly what to fix. Nothing here touches storage.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..errors import ValidationFailed
from ..events import ARTICLE_SOURCES, SESSION_PATTERN, is_session

# Letters beyond ASCII are welcome in addresses, but not blank space, controls or surrogates.
_U = "\u00a1-\u167f\u1681-\u1fff\u200b-\u2027\u202a-\u202e\u2030-\u205e\u2060-\u2fff" \
     "\u3001-\ud7ff\ue000-\uffff"
_LOCAL = f"[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~{_U}-]+"
_LABEL = f"[A-Za-z0-9{_U}](?:[A-Za-z0-9{_U}-]*[A-Za-z0-9{_U}])?"
# One pattern for the server and the OpenAPI spec: a dotted domain, at most 64 chars before @.
EMAIL_PATTERN = f"^(?=[^@]{{1,64}}@){_LOCAL}(?:\\.{_LOCAL})*@(?:{_LABEL}\\.)+[A-Za-z{_U}]{{2,63}}$"
_EMAIL = re.compile(EMAIL_PATTERN)
LOCALE_PATTERN = "^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}$"
_LOCALE = re.compile(LOCALE_PATTERN)
# A trail's session id (or none): the one rule of widget_server.events, so the ticket and its
# ticket_created event name the same session. Stored tickets are never checked again.
TRAIL_SESSION = SESSION_PATTERN
_SINGLE_LINE_OK: set[str] = set()
_MULTI_LINE_OK = {"\n", "\r", "\t"}
MIN_FILL_MS = 1500
MESSAGE_MAX = 10000
TRAIL_LIST_MAX = 50
TRAIL_TEXT_MAX = 500


def invalid(details: dict[str, str]) -> ValidationFailed:
    """A 422 whose message names the field, e.g. "email: must be an email address"."""
    field, problem = next(iter(details.items()))
    return ValidationFailed(f"{field}: {problem}", details)


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(value: Any, field: str, lo: int, hi: int, *, multiline: bool = False) -> str:
    """NFC-normalized text of lo..hi characters, free of control characters and lone surrogates.

    Raises ValidationFailed naming `field`. Bidi overrides (U+202E) are allowed: they are
    legitimate in RTL text, and every place that shows text isolates it instead.
    """
    if not isinstance(value, str):
        raise invalid({field: "must be a string"})
    if _has_lone_surrogate(value):
        raise invalid({field: "contains an invalid character"})
    text = unicodedata.normalize("NFC", value).strip()
    allowed = _MULTI_LINE_OK if multiline else _SINGLE_LINE_OK
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in text):
        raise invalid({field: "must not contain control characters"})
    if len(text) < lo:
        raise invalid({field: "is required" if lo == 1 else "too short"})
    if len(text) > hi:
        raise invalid({field: f"must be at most {hi} characters"})
    return text


def clean_email(value: Any) -> str:
    text = clean_text(value, "email", 3, 254)
    if not _EMAIL.match(text):
        raise invalid({"email": "must be an email address"})
    local, domain = text.split("@")
    return f"{local}@{domain.lower()}"


def clean_url(value: Any, field: str) -> str:
    text = clean_text(value, field, 0, 2000)
    if text and not text.lower().startswith(("http://", "https://")):
        raise invalid({field: "must be an http(s) URL"})
    return text


def clean_locale(value: Any, field: str = "locale") -> str:
    """A language tag like pt-BR."""
    locale = clean_text(value, field, 2, 35)
    if not _LOCALE.match(locale):
        raise invalid({field: "must be a language tag like pt-BR"})
    return locale


def _trail_text(value: Any, field: str, lo: int = 0) -> str:
    return clean_text(value, field, lo, TRAIL_TEXT_MAX)


def _trail_time(value: Any, field: str) -> str:
    text = _trail_text(value, field)
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise invalid({field: "must be an ISO 8601 time"}) from None
    return text


def whole(value: Any) -> int | None:
    """An integer, also when JSON spells it 7.0 (JSON Schema counts that as an integer)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _trail_int(value: Any, field: str) -> int:
    number = whole(value)
    if number is None or not 0 <= number <= 10**9:
        raise invalid({field: "must be a whole number >= 0"})
    return number


def _trail_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise invalid({field: "must be true or false"})
    return value


def _trail_source(value: Any, field: str) -> str:
    if value not in ARTICLE_SOURCES:
        raise invalid({field: f"must be {', '.join(ARTICLE_SOURCES[:-1])} or {ARTICLE_SOURCES[-1]}"})
    return str(value)


_TRAIL_ITEMS: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "searches": {"q": _trail_text, "results": _trail_int, "at": _trail_time},
    "articles": {"slug": _trail_text, "title": _trail_text, "source": _trail_source,
                 "at": _trail_time},
    "votes": {"slug": _trail_text, "helpful": _trail_bool, "at": _trail_time},
}


def _clean_items(items: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise invalid({f"trail.{name}": "must be a list"})
    if len(items) > TRAIL_LIST_MAX:
        raise invalid({f"trail.{name}": f"at most {TRAIL_LIST_MAX} entries"})
    fields = _TRAIL_ITEMS[name]
    cleaned = []
    for i, item in enumerate(items):
        where = f"trail.{name}[{i}]"
        if not isinstance(item, dict):
            raise invalid({where: "must be an object"})
        for key in item.keys() - fields.keys():
            raise invalid({f"{where}.{key}": "unknown field"})
        cleaned.append({k: parse(item[k], f"{where}.{k}") for k, parse in fields.items()
                        if k in item})
    return cleaned


def clean_trail(value: Any) -> dict[str, Any]:
    """The visitor's self-service trail, each list and string within its size limit."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid({"trail": "must be an object"})
    known = {"session", "page_url", *_TRAIL_ITEMS}
    for key in value.keys() - known:
        raise invalid({f"trail.{key}": "unknown field"})
    trail: dict[str, Any] = {}
    if "session" in value:
        session = _trail_text(value["session"], "trail.session")
        if session and not is_session(value["session"]):  # as sent: the id or nothing
            raise invalid({"trail.session": "malformed session id"})
        trail["session"] = session
    if "page_url" in value:
        trail["page_url"] = clean_url(value["page_url"], "trail.page_url")[:TRAIL_TEXT_MAX]
    for name in _TRAIL_ITEMS:
        if name in value:
            trail[name] = _clean_items(value[name], name)
    return trail


def is_spam_trap(body: Any) -> bool:
    """True when the hidden `website` field was filled: a bot, answered as if all went well."""
    return isinstance(body, dict) and bool(body.get("website"))


__all__ = [
    "EMAIL_PATTERN",
    "LOCALE_PATTERN",
    "MESSAGE_MAX",
    "MIN_FILL_MS",
    "TRAIL_SESSION",
    "clean_email",
    "clean_locale",
    "clean_text",
    "clean_trail",
    "clean_url",
    "invalid",
    "is_spam_trap",
    "whole",
]
