"""A notice: a short banner at the top of the help panel while something is known to be wrong.

The owner writes it in reaction to a spike (insights/spikes.py): one default text, optional
translations keyed by the panel's UI languages, an optional public article to read, and the
time it stops showing (`until`). A notice is never deleted: clearing it early records
`cleared_at`, so exports keep the history of what visitors were told and when.

`new_notice` is the one validation every entry point (CLI, admin form) goes through; it names
each bad field in a NoticeInvalid (422 over HTTP, exit code 2 in the CLI). Times are aware
datetimes in UTC; whether a notice shows is decided when it is read (`showing(at)`), so an
expired notice needs no job to take it down.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from .. import resources
from ..articles import article_path
from ..errors import ValidationFailed

MAX_TEXT = 200  # characters: a banner of two short lines in a 380px panel
MAX_ARTICLE = 200
LINE_BREAKS = "\u2028\u2029\u0085"


class NoticeInvalid(ValidationFailed):
    """One or more fields of a notice are refused; `details` maps each field (text, texts,
    article, until) to why."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        message = "; ".join(f"{name}: {why}" for name, why in problems.items())
        super().__init__(f"The notice was not published ({message})", dict(problems))
        self.problems = dict(problems)


@cache
def ui_locales() -> tuple[str, ...]:
    """The panel's UI languages: one catalog each in static/widget/i18n."""
    folder = resources.widget_dir() / "i18n"
    return tuple(sorted(p.stem for p in folder.glob("*.json")))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _time(raw: str) -> datetime:
    parsed = datetime.fromisoformat(raw)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Notice:
    """A published notice (see the module docstring)."""

    id: str
    text: str
    until: datetime
    created_at: datetime
    texts: Mapping[str, str] = field(default_factory=dict)
    article: str | None = None
    cleared_at: datetime | None = None

    def showing(self, at: datetime) -> bool:
        """Whether visitors see it at `at`: before `until` and not cleared by then."""
        return at < self.until and (self.cleared_at is None or at < self.cleared_at)

    def status(self, at: datetime) -> str:
        """showing, cleared (taken down early by the owner) or expired (past `until`)."""
        if self.cleared_at is not None and self.cleared_at <= at:
            return "cleared"
        return "showing" if at < self.until else "expired"

    def text_for(self, locale: str | None) -> str:
        """The text in the panel's locale if the owner wrote one, else the default text."""
        return self.texts.get((locale or "").strip().lower().split("-")[0], self.text)

    def for_panel(self, locale: str | None) -> dict[str, Any]:
        """What the panel shows: plain text (the panel sets it as text, never as HTML)."""
        return {
            "id": self.id, "text": self.text_for(locale), "until": _iso(self.until),
            "article": ({"slug": self.article, "url": article_path(self.article)}
                        if self.article else None),
        }

    def as_dict(self) -> dict[str, Any]:
        """Every field, times as ISO 8601 in UTC: the stored and exported shape."""
        return {
            "id": self.id, "text": self.text, "texts": dict(sorted(self.texts.items())),
            "article": self.article, "created_at": _iso(self.created_at),
            "until": _iso(self.until),
            "cleared_at": _iso(self.cleared_at) if self.cleared_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notice:
        return cls(
            id=str(data["id"]), text=str(data["text"]), until=_time(data["until"]),
            created_at=_time(data["created_at"]),
            texts={str(k): str(v) for k, v in (data.get("texts") or {}).items()},
            article=data.get("article") or None,
            cleared_at=_time(data["cleared_at"]) if data.get("cleared_at") else None,
        )


def text_problem(text: str) -> str | None:
    """Why `text` (already stripped) cannot be a notice, or None."""
    if not text:
        return "is empty"
    for position, char in enumerate(text, 1):
        if unicodedata.category(char) in {"Cc", "Cs"} or char in LINE_BREAKS:
            return (f"contains a control character (U+{ord(char):04X}) at character "
                    f"{position}; write the notice on one line")
    if len(text) > MAX_TEXT:
        return f"is {len(text)} characters long; a notice holds at most {MAX_TEXT}"
    return None


def parse_until(raw: str | datetime, now: datetime) -> datetime:
    """`raw` (ISO 8601; UTC unless it carries an offset) as an aware time after `now`;
    ValueError says why not."""
    if isinstance(raw, datetime):
        until = raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    else:
        text = raw.strip()
        try:
            until = _time(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            raise ValueError(f"{raw!r} is not a time like 2026-12-01T18:00 (UTC unless it "
                             "ends with an offset such as +02:00)") from None
    if until <= now:
        raise ValueError(f"{_iso(until)} is in the past (now is {_iso(now)}); a notice "
                         "needs an end in the future")
    return until.astimezone(UTC)


def parse_texts(pairs: Iterable[str]) -> dict[str, str]:
    """`de=Wir wissen…` pairs as {locale: text}; ValueError names the first bad pair."""
    texts: dict[str, str] = {}
    for pair in pairs:
        code, sep, text = pair.partition("=")
        code = code.strip().lower()
        if not sep or not code:
            raise ValueError(f"{pair[:40]!r} is not LOCALE=TEXT (e.g. de=\"Wir wissen…\")")
        if code in texts:
            raise ValueError(f"{code} is given twice")
        texts[code] = text
    return texts


def new_notice(text: str, *, until: str | datetime, now: datetime,
               texts: Mapping[str, str] | None = None, article: str | None = None,
               find_article: Callable[[str], str | None] | None = None) -> Notice:
    """A valid notice, or NoticeInvalid naming every refused field.

    `find_article(slug)` gives the canonical slug of a public article (a slug or an alias),
    or None when there is none; the caller knows where articles live (the KB folder for the
    CLI, the serving index for the admin)."""
    problems: dict[str, str] = {}
    text = text.strip()
    if (why := text_problem(text)) is not None:
        problems["text"] = f"the text {why}"
    cleaned: dict[str, str] = {}
    locales = ui_locales()
    for code, value in (texts or {}).items():
        value = value.strip()
        if code not in locales:
            problems["texts"] = (f"unknown locale {code[:20]!r}; the panel speaks "
                                 f"{', '.join(locales)}")
            break
        if (why := text_problem(value)) is not None:
            problems["texts"] = f"the {code} text {why}"
            break
        cleaned[code] = value
    slug = (article or "").strip().strip("/")
    if article is not None and not slug:
        problems["article"] = "is empty; leave it out for a notice without an article"
    elif slug:
        found = None
        if len(slug) <= MAX_ARTICLE and text_problem(slug) is None and find_article:
            found = find_article(slug)
        if found is None:
            problems["article"] = (f"no public article {slug[:MAX_ARTICLE]!r} (a draft or a "
                                   "missing slug; see deskbell check)")
        slug = found or ""
    try:
        end = parse_until(until, now)
    except ValueError as exc:
        problems["until"] = str(exc)
    if problems:
        raise NoticeInvalid(problems)
    return Notice(id=new_id(), text=text, until=end, created_at=now.astimezone(UTC),
                  texts=cleaned, article=slug or None)


def new_id() -> str:
    """A short random id to clear a notice by: 'n' and 7 hex digits."""
    return "n" + secrets.token_hex(4)[:7]


__all__ = ["MAX_TEXT", "Notice", "NoticeInvalid", "new_id", "new_notice", "parse_texts",
           "parse_until", "text_problem", "ui_locales"]
