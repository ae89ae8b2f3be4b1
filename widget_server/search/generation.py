"""One opened index generation: its searcher, catalog, typo vocabulary and result cache.

A search runs in three steps (see `Generation._search`): lexical scoring of the query's
clauses over the generation's postings, choosing the top documents, and building hits with
snippets from what the index stores.
"""

from __future__ import annotations

import dataclasses
import heapq
import operator
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import scoring

from .engine import Impacts
from .layout import read_catalog, read_words
from .query import Clause, Synonyms, build_query, query_words
from .results import Hit, SearchResult, encode_json
from .snippets import make_snippet
from .typos import Vocabulary

RESULT_CACHE_SIZE = 1024  # ~15 MB of hits with snippets
# Each further query word a document matches raises its score by this share (spread over the
# query's other words).
COORD_BONUS = 0.1


class Generation:
    """One opened index generation: a searcher and the catalog. Used from one thread at a time."""

    def __init__(self, index_dir: Path, name: str):
        self.name = name
        self.path = index_dir / name
        self.index = whoosh_index.open_dir(str(self.path))
        self.searcher = self.index.searcher(weighting=scoring.BM25F(B=0.75, K1=1.2))
        self.impacts = Impacts(self.searcher)
        self.catalog = read_catalog(self.path)
        self.aliases = {alias: slug for slug, meta in self.catalog.items() for alias in meta["aliases"]}
        self.vocabulary = Vocabulary(read_words(self.path))
        self._word_cache: dict[str, list[str]] = {}
        self._results: OrderedDict[tuple[str, int, str | None], SearchResult] = OrderedDict()

    def close(self) -> None:
        self.searcher.close()
        self.index.close()

    def warm(self, keys: Iterable[tuple[str, str]]) -> None:
        """Load what the first queries will need: field lengths, the terms in recent use and the
        typo index."""
        self.impacts.warm(keys)
        self.vocabulary.corrections("warm")

    def known(self, word: str) -> bool:
        return word in self.vocabulary

    def corrections(self, word: str) -> list[str]:
        if word not in self._word_cache:
            if len(self._word_cache) > 5000:
                self._word_cache.clear()
            self._word_cache[word] = self.vocabulary.corrections(word)
        return self._word_cache[word]

    def build_query(self, text: str, synonyms: Synonyms,
                    prefix_last: bool = True) -> tuple[list[Clause], list[str]]:
        """Words become (field, term) lookups, corrected against this generation's words."""
        return build_query(text, synonyms, self, prefix_last)

    def search(self, text: str, limit: int, synonyms: Synonyms, locale: str | None = None) -> SearchResult:
        key = (" ".join(query_words(text)) + (" " if text[-1:].isspace() else ""), limit, locale)
        cached = self._results.get(key)
        if cached is None:
            cached = self._search(text, limit, synonyms, locale)
            self._results[key] = cached
            if len(self._results) > RESULT_CACHE_SIZE:
                self._results.popitem(last=False)
        else:
            self._results.move_to_end(key)
        return dataclasses.replace(cached, query=text)

    def _search(self, text: str, limit: int, synonyms: Synonyms, locale: str | None) -> SearchResult:
        clauses, terms = self.build_query(text, synonyms)
        totals, total = self._score(clauses) if clauses else ({}, 0)
        allowed = set(self.impacts.docs("locale", locale)) if locale else None
        if allowed:  # a knowledge base without that language answers in the languages it has
            totals = {d: s for d, s in totals.items() if d in allowed}
            total = len(totals)
        top = heapq.nlargest(limit, totals.items(), key=operator.itemgetter(1))
        hits = [hit for docnum, score in top if (hit := self._hit(docnum, score, terms))]
        return SearchResult(query=text, total=total, hits=hits, terms=terms,
                            hits_json=encode_json([h.as_dict() for h in hits]))

    def _score(self, clauses: list[Clause]) -> tuple[dict[int, float], int]:
        """Scores of the candidate documents, and how many documents match at all."""
        # Each word's alternatives add up (as Whoosh's Or does); a document that matches more of
        # the query's words gets a coordination bonus, so "reset password" prefers articles
        # about both over a long one that says "password" many times.
        totals: dict[int, float] = {}
        matched: dict[int, int] = {}
        matching: set[int] = set()
        for clause in clauses:
            word: dict[int, float] = {}
            for field_name, term, weight in clause:
                matching.update(self.impacts.docs(field_name, term))
                for docnum, score in self.impacts.best(field_name, term):
                    word[docnum] = word.get(docnum, 0.0) + score * weight
            for docnum, score in word.items():
                totals[docnum] = totals.get(docnum, 0.0) + score
                matched[docnum] = matched.get(docnum, 0) + 1
        if len(clauses) > 1:
            bonus = COORD_BONUS / (len(clauses) - 1)
            for docnum, count in matched.items():
                if count > 1:
                    totals[docnum] *= 1.0 + bonus * (count - 1)
        return totals, len(matching)

    def _hit(self, docnum: int, score: float, terms: list[str]) -> Hit | None:
        stored = self.searcher.stored_fields(docnum)
        meta = self.catalog.get(stored.get("slug", ""))
        if meta is None:
            return None
        return Hit(
            slug=meta["slug"], title=meta["title"], url=f"/kb/{meta['slug']}",
            snippet=make_snippet(stored.get("text", ""), terms, fallback=meta["summary"]),
            category=meta["category"], summary=meta["summary"], score=score,
        )

    def document(self, slug: str) -> dict[str, Any] | None:
        stored: dict[str, Any] | None = self.searcher.document(slug=slug)
        return stored
