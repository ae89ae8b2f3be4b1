"""Typo correction: the knowledge base's unstemmed words, and the nearest ones to a misspelling."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping

from ..text import edit_distance
from .analysis import fold


class Vocabulary:
    """The knowledge base's unstemmed words and how often each is used; corrects typos.

    A correction is a word within 1 edit (2 for words longer than 5 letters; a swap of two
    neighbours counts as one) that starts with the same letter, the most used first. Candidates
    come from a symmetric-delete index: a word and every form of it with one letter deleted,
    kept as sorted hashes in two flat arrays (a few MB at 50k words), so a lookup is a few
    dozen binary searches instead of a scan of the vocabulary.
    """

    def __init__(self, counts: Mapping[str, int]):
        self.counts = counts
        self._words: list[str] = []
        self._keys = array("q")
        self._ids = array("i")
        self._sorted: list[str] = []
        self._accented: dict[str, str] | None = None

    def __contains__(self, word: object) -> bool:
        return word in self.counts

    def corrections(self, word: str, limit: int = 3) -> list[str]:
        if not self._words and self.counts:
            self._index()
        maxdist = 1 if len(word) <= 5 else 2
        found = {
            candidate for key in _deletes(word, maxdist) for candidate in self._lookup(hash(key))
            if candidate != word and candidate[:1] == word[:1]
            and edit_distance(word, candidate, maxdist, swaps=True) <= maxdist
        }
        return sorted(found, key=lambda w: (-self.counts[w], w))[:limit]

    def restore(self, word: str) -> str:
        """The most used word that reads `word` once accents are dropped ("contrasena" →
        "contraseña"): a visitor who types without accents means the knowledge base's word."""
        if word in self.counts or not word.isascii():
            return word
        if self._accented is None:
            accented: dict[str, str] = {}
            for known in self.counts:
                if not known.isascii() and (plain := fold(known)) != known:
                    best = accented.get(plain)
                    if best is None or self.counts[known] > self.counts[best]:
                        accented[plain] = known
            self._accented = accented
        return self._accented.get(word, word)

    def complete(self, prefix: str, scan: int = 2000) -> str | None:
        """The knowledge base's most used word that starts with `prefix` (a half-typed word),
        or None. Words are looked up in sorted order, so this is a binary search and a short
        scan, not a pass over the vocabulary."""
        if len(prefix) < 3:
            return None
        if not self._sorted and self.counts:
            self._sorted = sorted(self.counts)
        at = bisect_left(self._sorted, prefix)
        best: str | None = None
        for word in self._sorted[at:at + scan]:
            if not word.startswith(prefix):
                break
            if best is None or self.counts[word] > self.counts[best]:
                best = word
        return best

    def _lookup(self, key: int) -> Iterator[str]:
        at = bisect_left(self._keys, key)
        while at < len(self._keys) and self._keys[at] == key:
            yield self._words[self._ids[at]]
            at += 1

    def _index(self) -> None:
        self._words = [w for w in self.counts if len(w) > 1 and not w.isdigit()]
        pairs = sorted((hash(key), i) for i, w in enumerate(self._words) for key in _deletes(w, 1))
        self._keys = array("q", (k for k, _ in pairs))
        self._ids = array("i", (i for _, i in pairs))


def _deletes(word: str, depth: int) -> set[str]:
    """The word and every string made from it by deleting up to `depth` letters."""
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))} - out
        out |= frontier
    return out
