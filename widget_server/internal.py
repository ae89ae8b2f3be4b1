"""Articles for agents only: `audience: internal` in front matter.

An internal article is written like any other (markdown under `kb_dir`) but never indexed, so
the widget, the help center, the public API, the sitemap and the assistants' files never see
it. Agents do: beside a ticket (its subject or the agent's search finds it, to quote into a
reply) and at /admin/kb/<slug>. Typical use: canned answers, refund rules, escalation steps.

`InternalLibrary` reads them from the folder itself, not from the index, so an edit shows at
the next page view, without a reindex. Each request checks the files' sizes and times (a
directory walk: well under a millisecond for hundreds of articles) and parses again only what
changed. Search here is by words, not the visitors' ranking: every word of the query (case
and accents folded, a word may be the start of a longer one) must be in the title, summary,
tags or text; the title counts most. Internal articles are few, so that is enough and exact.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .articles import iter_markdown_files, parse_article


@dataclass(frozen=True)
class InternalArticle:
    slug: str
    path: str
    title: str
    summary: str
    tags: tuple[str, ...]
    html: str  # sanitized, as every article
    text: str


def fold(text: str) -> str:
    """Lower case without accents, for matching words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in fold(text)).split()


class InternalLibrary:
    """The internal articles of a knowledge-base folder, kept fresh (module docstring)."""

    def __init__(self, kb_dir: Path) -> None:
        self.kb_dir = kb_dir
        self._lock = threading.Lock()
        self._seen: dict[Path, tuple[int, int, InternalArticle | None]] = {}

    def articles(self) -> dict[str, InternalArticle]:
        """Every internal article by slug (the first by path when two claim one slug)."""
        with self._lock:
            seen: dict[Path, tuple[int, int, InternalArticle | None]] = {}
            if self.kb_dir.is_dir():
                for path in iter_markdown_files(self.kb_dir):
                    try:
                        stat = path.stat()
                    except OSError:
                        continue
                    known = self._seen.get(path)
                    if known is not None and known[:2] == (stat.st_mtime_ns, stat.st_size):
                        seen[path] = known
                    else:
                        seen[path] = (stat.st_mtime_ns, stat.st_size, self._read(path))
            self._seen = seen
        found: dict[str, InternalArticle] = {}
        for _, _, article in sorted(seen.values(), key=lambda v: v[2].path if v[2] else ""):
            if article is not None and article.slug not in found:
                found[article.slug] = article
        return found

    def _read(self, path: Path) -> InternalArticle | None:
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        article, _ = parse_article(raw, path.relative_to(self.kb_dir))
        if article is None or article.draft or not article.internal:
            return None
        rendered = article.render()
        return InternalArticle(article.slug, article.path, article.title, article.summary,
                               tuple(article.tags), rendered.html, rendered.text)

    def get(self, slug: str) -> InternalArticle | None:
        return self.articles().get(slug)

    def search(self, query: str, limit: int = 5) -> list[InternalArticle]:
        """The articles holding every word of `query` (a word may start a longer one), the
        title's matches first (module docstring)."""
        wanted = _words(query)
        if not wanted:
            return []
        scored = []
        for article in self.articles().values():
            title = _words(article.title)
            rest = _words(" ".join((article.summary, *article.tags, article.text)))
            every = title + rest
            if all(any(w.startswith(q) for w in every) for q in wanted):
                in_title = sum(any(w.startswith(q) for w in title) for q in wanted)
                scored.append((-in_title, article.title.casefold(), article))
        return [article for *_, article in sorted(scored, key=lambda s: s[:2])[:limit]]


__all__ = ["InternalArticle", "InternalLibrary", "fold"]
