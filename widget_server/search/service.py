"""The server's view of the index: follows CURRENT, swaps generations without a gap, and
answers searches, article lookups and page suggestions from the live generation.

The thread rule: a generation's searcher, caches and swaps belong to one thread, the search
thread. The server's routes hand every search and article lookup to it (`await service.call(
...)`) so the event loop never waits on Whoosh or the model, and a slow query delays other
searches but never a ticket, a page or a health check. Other threads may read the live
generation's catalog (plain dicts, never changed once loaded). Code without an event loop (the
command line, tests, benchmarks) calls the methods directly from its one thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .embedding import MODEL_NAME, Encoder, load_model
from .generation import Generation
from .layout import current_generation
from .query import Synonyms
from .results import SearchResult

# One side thread opens new generations; searches never wait for it.
_OPENER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deskbell-index-open")


log = logging.getLogger("deskbell.search")
T = TypeVar("T")


def _open_warm(index_dir: Path, name: str, recent: list[tuple[str, str]],
               encoder: Encoder | None, threshold: float | None,
               default_locale: str = "en") -> Generation:
    fresh = Generation(index_dir, name, encoder, threshold, default_locale)
    fresh.warm(recent)
    return fresh


class SearchService:
    """The server's view of the index: follows CURRENT and swaps generations without a gap."""

    def __init__(self, index_dir: Path, synonyms: Synonyms | None = None, check_every: float = 1.0,
                 semantic: bool = True, threshold: float | None = None,
                 default_locale: str = "en"):
        self.index_dir = index_dir
        # Where a search without a locale looks, and where any search falls back to.
        self.default_locale = default_locale
        self.synonyms = synonyms or Synonyms()
        self.check_every = check_every
        self.encoder, self.model_note = load_model(semantic)
        if semantic and self.encoder is None:
            log.warning("search: %s", self.model_note)
        self.threshold = threshold
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deskbell-search")
        self._generation: Generation | None = None
        self._opening: tuple[str, Future[Generation]] | None = None
        self._checked_at = 0.0
        self.refresh(force=True)

    @property
    def generation(self) -> Generation | None:
        self.refresh()
        return self._generation

    def refresh(self, force: bool = False) -> None:
        """Follow CURRENT. A new generation is opened and warmed on a side thread while the old
        one keeps answering, so no visitor's query pays for opening it; `force` (and
        check_every=0) open it right here instead."""
        self._adopt_opened()
        now = time.monotonic()
        if not force and now - self._checked_at < self.check_every:
            return
        self._checked_at = now
        name = current_generation(self.index_dir)
        if name is None:
            return
        if self._generation and self._generation.name == name:
            # Vectors of a large build are encoded after its words went live.
            if self._generation.attach_vectors():
                log.info("search: %s now ranks by meaning", name)
            return
        opener = (self.index_dir, name, self.encoder, self.threshold, self.default_locale)
        if force or self.check_every <= 0 or self._generation is None:
            self._swap(_open_warm(opener[0], opener[1], [], *opener[2:]))
        elif self._opening is None or self._opening[0] != name:
            # The terms visitors used lately are read in this thread: the cache is not shared.
            recent = self._generation.impacts.recent()
            self._opening = (name, _OPENER.submit(_open_warm, opener[0], opener[1], recent,
                                                  *opener[2:]))

    def _adopt_opened(self) -> None:
        if self._opening is None or not self._opening[1].done():
            return
        _, future = self._opening
        self._opening = None
        try:
            fresh = future.result()
        except Exception:  # a generation pruned or broken meanwhile: the next check retries
            self._checked_at = 0.0
            return
        if self._generation is None or fresh.name != self._generation.name:
            self._swap(fresh)
        else:
            fresh.close()

    def _swap(self, fresh: Generation) -> None:
        # The new generation is complete before the old one is dropped: no empty window.
        old, self._generation = self._generation, fresh
        if old is not None:
            old.close()

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        if self._generation:
            self._generation.close()
            self._generation = None

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the search thread (see the module's thread rule)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def search(self, text: str, limit: int = 10, locale: str | None = None,
               instant: bool = False) -> SearchResult:
        gen = self.generation
        if gen is None:
            return SearchResult(query=text, total=0, hits=[], hits_json=b"[]")
        return gen.search(text, limit, self.synonyms, locale, instant)

    def explain(self, text: str, limit: int = 10, locale: str | None = None) -> list[dict[str, Any]]:
        gen = self.generation
        return gen.explain(text, self.synonyms, limit, locale) if gen else []

    def status(self) -> dict[str, Any]:
        """How search ranks right now, for /healthz and `deskbell config`; any thread."""
        gen = self._generation
        semantic = bool(gen and gen.semantic)
        note = self.model_note or (gen.semantic_note if gen else "no index yet")
        return {
            "ranking": "hybrid" if semantic else "lexical",
            "model": MODEL_NAME if self.encoder else None,
            "note": note,
            "answer_threshold": round(gen.threshold, 3) if gen else None,
        }

    @property
    def serving(self) -> Generation | None:
        """The generation answering now, without following CURRENT: any thread may ask."""
        return self._generation

    def ready(self) -> bool:
        """Whether a generation is open. With none yet, look for one here: there is nothing a
        search could be using, so any thread may open the first."""
        if self._generation is None:
            self.refresh(force=True)
        return self._generation is not None

    @property
    def live_catalog(self) -> dict[str, dict[str, Any]]:
        """The catalog of the generation serving now, without following CURRENT: any thread."""
        gen = self._generation
        return gen.catalog if gen else {}

    @property
    def catalog(self) -> dict[str, dict[str, Any]]:
        gen = self.generation
        return gen.catalog if gen else {}

    def resolve(self, slug: str) -> tuple[str | None, bool]:
        """Return (canonical slug, is_alias) or (None, False)."""
        gen = self.generation
        if gen is None:
            return None, False
        if slug in gen.catalog:
            return slug, False
        target = gen.aliases.get(slug)
        return (target, True) if target else (None, False)

    def article(self, slug: str) -> dict[str, Any] | None:
        gen = self.generation
        if gen is None or slug not in gen.catalog:
            return None
        stored = gen.document(slug) or {}
        return {**gen.catalog[slug], "html": stored.get("html", "")}

    def suggestions(self, page_url: str, limit: int = 5) -> list[dict[str, Any]]:
        catalog = self.catalog
        parts = urlsplit(page_url)
        candidates = {page_url, parts.path or "/", f"{parts.netloc}{parts.path}"}
        matched = [
            meta for meta in catalog.values()
            if any(fnmatchcase(c.lower(), p.lower()) for p in meta["urls"] for c in candidates)
        ]
        if len(matched) < limit:
            rest = sorted(
                (m for m in catalog.values() if m not in matched),
                key=lambda m: (not m["urls"], m["updated"] == "", m["category"], m["title"]),
            )
            matched.extend(rest[: limit - len(matched)])
        return matched[:limit]
