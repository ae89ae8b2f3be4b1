"""What a visitor types, turned into lookups: query words, synonyms and clauses.

Public queries never reach Whoosh's query language: `build_query` turns words into
(field, term, weight) lookups that the engine scores, so nothing typed is parsed as syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..text import content_words, stem_word, words
from .engine import ANY_TEXT

# One word of the query: alternative (field, term, weight) triples whose scores add up.
Clause = list[tuple[str, str, float]]

_QUERY_WORD = re.compile(r"\w+(?:\.\w+)*", re.UNICODE)
# A dotted name counts mostly as itself; its parts add a little, for text that writes them
# apart (or an index built before the name appeared).
DOTTED_PARTS_WEIGHT = 0.2


class Spelling(Protocol):
    """The words a generation knows, and its corrections for words it does not."""

    def known(self, word: str) -> bool: ...

    def corrections(self, word: str) -> list[str]: ...


@dataclass(frozen=True)
class Synonyms:
    groups: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def load(cls, path: Path | None) -> Synonyms:
        if not path:
            return cls()
        groups = []
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0]
            group = tuple(w.strip().lower() for w in line.split(",") if w.strip())
            if len(group) > 1:
                groups.append(group)
        return cls(tuple(groups))

    def expand(self, text: str) -> list[str]:
        padded = f" {' '.join(words(text.lower()))} "
        extra: list[str] = []
        for group in self.groups:
            if any(f" {phrase} " in padded for phrase in group):
                extra.extend(p for p in group if f" {p} " not in padded)
        return extra


def query_words(text: str, max_words: int = 12) -> list[str]:
    """The query's words, lower case; a name written with dots ("duck.ai", "v2.1") stays one
    word, as the index keeps it."""
    return [w.lower() for w in _QUERY_WORD.findall(text)][:max_words]


def build_query(text: str, synonyms: Synonyms, spelling: Spelling,
                prefix_last: bool = True) -> tuple[list[Clause], list[str]]:
    """One clause per content word (and per synonym phrase), and the words to highlight."""
    found = query_words(text)
    if not found:
        return [], []
    content = content_words(found)
    last_is_partial = prefix_last and not text[-1:].isspace() and found[-1] == content[-1]
    clauses: list[Clause] = []
    highlight: list[str] = []
    for position, word in enumerate(content):
        partial = last_is_partial and position == len(content) - 1
        clause, terms = _word_clause(word, partial, spelling)
        clauses.append(clause)
        highlight.extend(terms)
    for extra in synonyms.expand(text):
        # A synonym phrase counts as one more word of the query, at a slight discount.
        clauses.append([t for w in query_words(extra) for t in _stemmed(w, 0.8)])
        highlight.extend(query_words(extra))
    return clauses, highlight


def _word_clause(word: str, partial: bool, spelling: Spelling) -> tuple[Clause, list[str]]:
    clause, terms = _word_options(word, partial, spelling)
    # Corrections often share a stem ("activate", "activation"): look each term up once.
    weights: dict[tuple[str, str], float] = {}
    for field_name, term, weight in clause:
        weights[field_name, term] = weights.get((field_name, term), 0.0) + weight
    return [(f, t, w) for (f, t), w in weights.items()], terms


def _word_options(word: str, partial: bool, spelling: Spelling) -> tuple[Clause, list[str]]:
    if "." in word:
        parts = word.split(".")
        options = _stemmed(word, 1.0) + [
            t for part in parts for t in _stemmed(part, DOTTED_PARTS_WEIGHT / len(parts))]
        if partial:
            options.append(("edges", parts[-1][:15], DOTTED_PARTS_WEIGHT))
        return options, [word, *parts]
    options = _stemmed(word, 1.0)
    terms = [word]
    if partial and len(word) >= 2:
        options.append(("edges", word[:15], 0.9))
    if len(word) >= 4 and not word.isdigit() and not spelling.known(word):
        fixes = spelling.corrections(word)
        for fixed in fixes:
            options.extend(_stemmed(fixed, 0.7))
        terms.extend(fixes)
    return options, terms


def _stemmed(word: str, weight: float) -> Clause:
    return [(ANY_TEXT, stem_word(word), weight)]
