"""What a search returns: hits, the optional quoted answer, the result, and its JSON encoding."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Hit:
    slug: str
    title: str
    url: str
    snippet: str
    category: str
    summary: str
    score: float
    locale: str = "en"  # the article's language
    # The slug of the article's translation into the visitor's locale, when this hit is in
    # another language and the knowledge base links one (None otherwise).
    translation: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug, "title": self.title, "url": self.url, "snippet": self.snippet,
            "category": self.category, "summary": self.summary, "score": round(self.score, 4),
            "locale": self.locale, "translation": self.translation,
        }


@dataclass(frozen=True)
class Answer:
    """The best passage of the best article, quoted exactly: the sanitized HTML of one section."""

    slug: str
    title: str
    heading: str  # the section's heading; "" for the text before the first heading
    anchor: str  # the heading's id in the article's HTML; "" for the opening section
    html: str
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "title": self.title, "heading": self.heading,
                "anchor": self.anchor, "html": self.html, "confidence": round(self.confidence, 3)}


@dataclass
class SearchResult:
    query: str
    total: int
    hits: list[Hit]
    terms: list[str] = field(default_factory=list)
    # How sure the ranking is that the first hit answers the query (0..1, calibrated per
    # knowledge base); the answer is only given when it clears the generation's threshold.
    confidence: float = 0.0
    answer: Answer | None = None
    # The locale the hits are in; `fallback`: the visitor's locale found nothing (or the
    # knowledge base does not have it), so these are the site default locale's articles.
    locale: str | None = None
    fallback: bool = False
    # The hits as the API's JSON array, encoded once per cached result: on a search box that
    # updates on every keystroke most answers come from the cache, and encoding them again
    # was a sixth of the API's time per request (profiled under load).
    hits_json: bytes = field(default=b"", repr=False, compare=False)


def encode_json(value: Any) -> bytes:
    """JSON exactly as the API sends it (compact, UTF-8, no NaN)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
