"""Lexical scores straight from Whoosh's postings: the only module that reaches into Whoosh's
internals (leaf readers, deleted documents, a matcher's decoded blocks).

Whoosh scores a query by walking a tree of Python matchers posting by posting, which costs
tens to hundreds of milliseconds at 10k articles for common words. The same BM25F score for
one term in one document never changes within a generation, so each posting list is turned
once into {docnum: score}; a query then adds a few dicts and takes the top hits.
"""

from __future__ import annotations

import heapq
import itertools
import math
import operator
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from .schema import STEMMED_FIELDS

IMPACT_CACHE_BYTES = 24_000_000  # a few thousand terms' scores
# A word scores at most this many documents (its best ones): the few-ms budget of a query
# holds at 50k articles, and a document past a common word's first 1000 would gain only that
# word's smallest scores. Counting matches (`total`) still uses every posting.
CHAMPIONS = 1000
ANY_TEXT = "*"  # the stemmed text fields together, as BM25F sums them


class _Term:
    """One term's scores, and its champion list: the CHAMPIONS best documents, best first."""

    __slots__ = ("best_ids", "best_scores", "docs", "size")

    def __init__(self, scores: dict[int, float]):
        # Flat arrays, not Python tuples: 4 bytes per matching docnum (for counting and
        # filters) and 12 per champion, about a tenth of (int, float) tuples in a list.
        self.docs = array("i", scores)
        if len(scores) > CHAMPIONS:
            best = heapq.nlargest(CHAMPIONS, scores.items(), key=operator.itemgetter(1))
        else:
            best = sorted(scores.items(), key=operator.itemgetter(1), reverse=True)
        self.best_ids = array("i", [d for d, _ in best])
        self.best_scores = array("d", [score for _, score in best])
        self.size = 4 * len(self.docs) + 12 * len(best) + 300  # bytes, with object overhead


class Impacts:
    """BM25F scores per (field, term), read lazily from Whoosh's postings and kept in memory."""

    def __init__(self, searcher: Any, B: float = 0.75, K1: float = 1.2):  # noqa: N803
        self.reader = searcher.reader()
        self.B, self.K1 = B, K1
        self.doc_count = self.reader.doc_count_all()
        self._leaves = [(leaf, offset, _deleted(leaf)) for leaf, offset in self.reader.leaf_readers()]
        self._norms: dict[str, list[float]] = {}
        self._cache: OrderedDict[tuple[str, str], _Term] = OrderedDict()
        self._cached_postings = 0

    def docs(self, field: str, term: str) -> array[int]:
        """Every document with the term."""
        return self._entry(field, term).docs

    def best(self, field: str, term: str) -> Iterator[tuple[int, float]]:
        """The term's highest-scoring documents, best first, at most CHAMPIONS of them."""
        entry = self._entry(field, term)
        return zip(entry.best_ids, entry.best_scores, strict=True)

    def _entry(self, field: str, term: str) -> _Term:
        key = (field, term)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        entry = _Term(self._combined(term) if field == ANY_TEXT else self._read(field, term))
        self._cache[key] = entry
        self._cached_postings += entry.size
        while self._cached_postings > IMPACT_CACHE_BYTES and len(self._cache) > 1:
            _, dropped = self._cache.popitem(last=False)
            self._cached_postings -= dropped.size
        return entry

    def _combined(self, stem: str) -> dict[int, float]:
        # BM25F adds the per-field scores of a term: do it once per stem, not once per query.
        total: dict[int, float] = {}
        for field_name in STEMMED_FIELDS:
            for docnum, score in self._read(field_name, stem).items():
                total[docnum] = total.get(docnum, 0.0) + score
        return total

    def recent(self, count: int = 256) -> list[tuple[str, str]]:
        """The most recently used (field, term) pairs, most recent first."""
        return list(itertools.islice(reversed(self._cache), count))

    def warm(self, keys: Iterable[tuple[str, str]]) -> None:
        for field_name in STEMMED_FIELDS:
            self._norm(field_name)
        for key in keys:
            self._entry(*key)

    def _norm(self, field: str) -> list[float]:
        # K1 * ((1 - B) + B * length / average length), per document, as BM25F has it.
        norms = self._norms.get(field)
        if norms is None:
            lengths = [0] * self.doc_count
            for leaf, offset, _ in self._leaves:
                for docnum in range(leaf.doc_count_all()):
                    lengths[offset + docnum] = leaf.doc_field_length(docnum, field, 0) or 0
            average = (self.reader.field_length(field) / max(self.doc_count, 1)) or 1.0
            k1, b = self.K1, self.B
            norms = self._norms[field] = [k1 * ((1 - b) + b * n / average) for n in lengths]
        return norms

    def _read(self, field: str, term: str) -> dict[int, float]:
        if (field, term) not in self.reader:
            return {}
        idf = math.log(self.doc_count / (self.reader.doc_frequency(field, term) + 1)) + 1
        out: dict[int, float] = {}
        if not self.reader.schema[field].scorable:
            for ids, weights in self._blocks(field, term):
                out.update(zip(ids, weights, strict=True))
            return out
        norms, k1 = self._norm(field), self.K1 + 1
        for ids, weights in self._blocks(field, term):
            out.update(zip(ids, [idf * w * k1 / (w + norms[d]) for d, w in zip(ids, weights, strict=True)],
                           strict=True))
        return out

    def _blocks(self, field: str, term: str) -> Iterator[tuple[list[int], list[float]]]:
        """(docnums, weights) a block at a time, deleted documents left out."""
        for leaf, offset, deleted in self._leaves:
            if (field, term) not in leaf:
                continue
            for ids, weights in _leaf_blocks(leaf.postings(field, term)):
                pairs = [(offset + d, w) for d, w in zip(ids, weights, strict=True) if d not in deleted]
                yield [d for d, _ in pairs], [w for _, w in pairs]


def _deleted(leaf: Any) -> frozenset[int]:
    if not leaf.has_deletions():
        return frozenset()
    return frozenset(d for d in range(leaf.doc_count_all()) if leaf.is_deleted(d))


def _leaf_blocks(matcher: Any) -> Iterator[tuple[Any, Any]]:
    # Whoosh's on-disk matcher decodes a whole block of ids and weights at once; reading those
    # arrays is ~20x faster than stepping posting by posting. Other matchers take the slow road.
    if hasattr(matcher, "_read_ids") and hasattr(matcher, "_next_block"):
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_weights()
            yield matcher._ids, matcher._weights
            matcher._next_block()
        return
    ids, weights = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    yield ids, weights
