"""What a visitor types, turned into lookups: query words, synonyms and clauses.

Public queries never reach Whoosh's query language: `build_query` turns words into
(field, term, weight) lookups that the engine scores, so nothing typed is parsed as syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..text import content_words, words
from .analysis import ENGLISH_ONLY, Language
from .engine import ANY_TEXT

# One word of the query: alternative (field, term, weight) triples whose scores add up.
Clause = list[tuple[str, str, float]]

_QUERY_WORD = re.compile(r"\w+(?:\.\w+)*", re.UNICODE)
# A dotted name counts mostly as itself; its parts add a little, for text that writes them
# apart (or an index built before the name appeared).
DOTTED_PARTS_WEIGHT = 0.2
# In languages that write compounds as one word, a whole query word also counts as the
# beginning of a longer one ("passwort" in "Passwortänderung"), a little less than itself.
COMPOUND_PREFIX_WEIGHT = 0.5


class Spelling(Protocol):
    """The words a generation knows, and its corrections for words it does not."""

    def known(self, word: str) -> bool: ...

    def corrections(self, word: str) -> list[str]: ...

    def restore(self, word: str) -> str:
        """The word with the accents the knowledge base writes it with ("contrasena" →
        "contraseña"), or the word itself."""
        ...


@dataclass(frozen=True)
class Synonyms:
    """Groups of words that mean the same. The file named by `synonyms_file` holds the site
    default locale's groups; a file beside it named with a locale (`synonyms.es.txt` next to
    `synonyms.txt`) holds that locale's, and a query only ever uses its own locale's groups."""

    groups: tuple[tuple[str, ...], ...] = ()
    by_locale: tuple[tuple[str, Synonyms], ...] = ()

    @classmethod
    def load(cls, path: Path | None) -> Synonyms:
        if not path:
            return cls()
        path = Path(path)
        others = []
        for sibling in sorted(path.parent.glob(f"{path.stem}.*{path.suffix}")):
            locale = sibling.name[len(path.stem) + 1:len(sibling.name) - len(path.suffix)]
            if sibling != path and locale and "." not in locale:
                others.append((locale.lower(), cls._read(sibling)))
        return cls(cls._read(path).groups if path.exists() else (), tuple(others))

    @classmethod
    def _read(cls, path: Path) -> Synonyms:
        groups = []
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0]
            group = tuple(w.strip().lower() for w in line.split(",") if w.strip())
            if len(group) > 1:
                groups.append(group)
        return cls(tuple(groups))

    def for_locale(self, locale: str, default_locale: str) -> Synonyms:
        """The groups a query in `locale` uses: its own file's, else the main file's when it is
        the default locale, else none."""
        found = dict(self.by_locale)
        language = locale.split("-")[0]
        for key in (locale.lower(), language.lower()):
            if key in found:
                return found[key]
        return Synonyms(self.groups) if language == default_locale.split("-")[0] else Synonyms()

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


def language_words(text: str, language: Language, max_words: int = 12) -> list[str]:
    """The query's words as `language` reads them (English: `query_words`)."""
    if language.english:
        return query_words(text, max_words)
    return language.split(text)[:max_words]


def build_query(text: str, synonyms: Synonyms, spelling: Spelling, prefix_last: bool = True,
                language: Language = ENGLISH_ONLY) -> tuple[list[Clause], list[str]]:
    """One clause per content word (and per synonym phrase), and the words to highlight."""
    found = language_words(text, language)
    if not found:
        return [], []
    if language.english:
        content = content_words(found)
    else:
        content = [w for w in found if not language.is_stop(w)] or found
    last_is_partial = prefix_last and not text[-1:].isspace() and found[-1] == content[-1]
    if language.folds:
        content = [spelling.restore(w) for w in content]
    clauses: list[Clause] = []
    highlight: list[str] = []
    for position, word in enumerate(content):
        partial = last_is_partial and position == len(content) - 1
        clause, terms = _word_clause(word, partial, spelling, language)
        clauses.append(clause)
        highlight.extend(terms)
    for extra in synonyms.expand(text):
        # A synonym phrase counts as one more word of the query, at a slight discount.
        extra_words = language_words(extra, language)
        clauses.append([t for w in extra_words for t in _stemmed(w, 0.8, language)])
        highlight.extend(extra_words)
    return clauses, highlight


def _word_clause(word: str, partial: bool, spelling: Spelling,
                 language: Language) -> tuple[Clause, list[str]]:
    clause, terms = _word_options(word, partial, spelling, language)
    # Corrections often share a stem ("activate", "activation"): look each term up once.
    weights: dict[tuple[str, str], float] = {}
    for field_name, term, weight in clause:
        weights[field_name, term] = weights.get((field_name, term), 0.0) + weight
    return [(f, t, w) for (f, t), w in weights.items()], terms


def _word_options(word: str, partial: bool, spelling: Spelling,
                  language: Language) -> tuple[Clause, list[str]]:
    if "." in word:
        parts = word.split(".")
        options = _stemmed(word, 1.0, language) + [
            t for part in parts for t in _stemmed(part, DOTTED_PARTS_WEIGHT / len(parts), language)]
        if partial:
            options.append(("edges", language.edge(parts[-1]), DOTTED_PARTS_WEIGHT))
        return options, [word, *parts]
    options = _stemmed(word, 1.0, language)
    terms = [word]
    if partial and len(word) >= 2 and not language.unspaced(word):
        options.append(("edges", language.edge(word), 0.9))
    elif language.compounds and len(word) >= 4:
        options.append(("edges", language.edge(word), COMPOUND_PREFIX_WEIGHT))
    if len(word) >= 4 and not word.isdigit() and not spelling.known(word):
        fixes = spelling.corrections(word)
        for fixed in fixes:
            options.extend(_stemmed(fixed, 0.7, language))
        terms.extend(fixes)
    return options, terms


def _stemmed(word: str, weight: float, language: Language = ENGLISH_ONLY) -> Clause:
    return [(ANY_TEXT, language.term(word), weight)]
