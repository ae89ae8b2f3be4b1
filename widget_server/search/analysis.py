"""Words as each language reads them: one `Language` per locale, for the index and the query.

English is analyzed exactly as `widget_server.text` has always done it (Porter stems, its
stop words, accents kept), so English results are the same as before languages existed. Every
other language gets, where it applies:

- its Snowball stemmer from `whoosh.lang` (Arabic: Whoosh's ISRI root stemmer) and its stop
  words, plus the question words visitors type ("comment", "cómo", "wie");
- accent folding (after stemming, so the stemmer still sees its suffixes; a query typed
  without accents is given them back from the knowledge base's own words first, see typos);
- elisions dropped (French, Italian, Catalan: "l'abonnement" is "abonnement");
- German, Dutch and the Nordic languages write compounds as one word: a query word also
  matches as the beginning of a longer word ("passwort" finds "Passwortänderung");
- Arabic normalized (diacritics and tatweel removed; أ إ آ ٱ → ا, ى → ي, ة → ه, ؤ → و, ئ → ي);
- Chinese, Japanese and Thai, written without spaces, cut into overlapping pairs of
  characters ("重置密码" → 重置 置密 密码), so a sentence is not one word.

A generation built before languages existed analyzed every article as English; it is opened
with `ENGLISH_ONLY` until `deskbell reindex` rebuilds it (see build.ANALYSIS_VERSION).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from whoosh.analysis import NgramFilter, StandardAnalyzer
from whoosh.lang import has_stemmer, has_stopwords, stemmer_for_language, stopwords_for_language

from ..text import STOP_WORDS, TOKEN, stem_tokens, stem_word, words

ENGLISH = "en"
# Runs of characters written without spaces between words.
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\u0e00-\u0e7f"
_UNSPACED_RUN = re.compile(f"[{_UNSPACED}]+")
_SEGMENTED_TOKEN = re.compile(f"[{_UNSPACED}]+|[^\\W{_UNSPACED}]+(?:\\.[^\\W{_UNSPACED}]+)*")
EDGE_MAX = 15
# The as-you-type field's analyzer: every beginning (2 to EDGE_MAX letters) of each word.
EDGE_ANALYZER = (StandardAnalyzer(stoplist=None)
                 | NgramFilter(minsize=2, maxsize=EDGE_MAX, at="start"))
# Words that only say a visitor is asking: dropped from queries like the stop words.
_QUESTION_WORDS = {
    "fr": "comment pourquoi quand où quel quelle quels quelles faire peux puis puis-je aide svp "
          "est-ce besoin veux",
    "es": "cómo como qué que dónde cuándo cuál puedo hacer ayuda quiero necesito favor",
    "it": "come perché quando dove quale posso fare aiuto voglio",
    "pt": "como quando onde qual posso fazer ajuda quero preciso",
    "de": "wie warum wann wo was welche kann ich mein meine bitte hilfe machen möchte",
    "nl": "hoe waarom wanneer waar wat kan ik mijn help",
    "ru": "как почему когда где что можно помощь",
}
_ELISIONS = {
    "fr": "l d j m n s t c qu jusqu lorsqu puisqu quoiqu",
    "it": "l d c un dell all dall nell sull quest quell tutt",
    "ca": "l d s m n t",
}
# Languages that write compounds as one word.
_COMPOUNDING = frozenset({"de", "nl", "sv", "da", "no", "nb", "nn", "fi", "is"})
_SEGMENTED = frozenset({"zh", "ja", "th", "lo", "km", "my"})
_ARABIC_SCRIPT = frozenset({"ar", "fa", "ur"})
_ARABIC_STOP = ("في من على الى عن ان او ما ماذا كيف هل هذا هذه ذلك التي الذي مع كل لا لم "
                "عند بعد قبل ثم كان يمكن")
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه",
                                 "ؤ": "و", "ئ": "ي"})


def language_of(locale: str | None) -> str:
    """The language part of a locale, lower case: "pt-BR" → "pt", None → "en"."""
    return (locale or ENGLISH).replace("_", "-").split("-")[0].strip().lower() or ENGLISH


def fold(word: str) -> str:
    """Accents dropped from Latin and Greek letters ("é" → "e", "ß" → "ss"); Cyrillic keeps
    "й" (a letter of its own) but "ё" becomes "е"; other scripts are left alone."""
    if word.isascii():
        return word
    out: list[str] = []
    for char in word:
        if char == "ß":
            out.append("ss")
        elif char in "ёЁ":
            out.append("е")
        elif "\u00c0" <= char <= "\u03ff" or "\u1e00" <= char <= "\u1fff":
            out.append("".join(c for c in unicodedata.normalize("NFD", char)
                               if not unicodedata.combining(c)))
        else:
            out.append(char)
    return "".join(out)


def normalize_arabic(text: str) -> str:
    return _ARABIC_MARKS.sub("", text).translate(_ARABIC_LETTERS)


def is_unspaced(word: str) -> bool:
    """Whether a word begins with a character of a script written without spaces."""
    return bool(_UNSPACED_RUN.match(word))


def bigrams(run: str) -> list[str]:
    """Overlapping pairs of characters; a single character stays itself."""
    return [run] if len(run) < 2 else [run[i:i + 2] for i in range(len(run) - 1)]


@dataclass(frozen=True)
class Language:
    """How one language turns text into index terms and a query into words."""

    code: str
    stemmer: Callable[[str], str] | None = None
    stop_words: frozenset[str] = frozenset()
    folds: bool = False
    elisions: re.Pattern[str] | None = None
    compounds: bool = False
    segmented: bool = False
    arabic: bool = False
    _cache: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def english(self) -> bool:
        return self.code == ENGLISH

    def normalize(self, text: str) -> str:
        """Lower case, elisions dropped, Arabic letters normalized; accents kept (the stemmer
        reads them, and typo correction learns the words as written)."""
        text = text.lower()
        if self.elisions is not None:
            text = self.elisions.sub("", text)
        if self.arabic:
            text = normalize_arabic(text)
        return text

    def split(self, text: str) -> list[str]:
        """Normalized text into words: unspaced scripts into pairs of characters."""
        text = self.normalize(text)
        if not self.segmented:
            return TOKEN.findall(text)
        out: list[str] = []
        # Thai vowel signs are not word characters: a run is taken whole, marks included.
        for match in _SEGMENTED_TOKEN.finditer(text):
            word = match.group()
            out.extend(bigrams(word) if _UNSPACED_RUN.match(word) else [word])
        return out

    def term(self, word: str) -> str:
        """The index term of one normalized word."""
        if self.english:
            return stem_word(word)
        found = self._cache.get(word)
        if found is None:
            if len(self._cache) > 100_000:
                self._cache.clear()
            stemmed = word
            if self.stemmer is not None and not _UNSPACED_RUN.search(word) and not word.isdigit():
                stemmed = self.stemmer(word) or word
            found = self._cache[word] = fold(stemmed) if self.folds else stemmed
        return found

    def terms(self, text: str) -> list[str]:
        """What the stemmed fields index of text."""
        if self.english:
            return stem_tokens(text)
        return [self.term(word) for word in self.split(text)]

    def words(self, text: str) -> list[str]:
        """The unstemmed words typo correction learns (numbers and pairs of characters too)."""
        if self.english:
            return words(text.lower())
        return [w for word in self.split(text) for w in words(word)]

    def unspaced(self, word: str) -> bool:
        """Whether a word is a pair of characters of a script written without spaces."""
        return self.segmented and bool(_UNSPACED_RUN.match(word))

    def edge(self, word: str) -> str:
        """A word (or its beginning) as the prefix field holds it."""
        return (fold(word) if self.folds else word)[:EDGE_MAX]

    def edges(self, text: str) -> list[str]:
        """Every beginning (2 to 15 letters) of each word of text: the as-you-type field."""
        if self.english:
            return [t.text for t in EDGE_ANALYZER(text, mode="index") if not t.stopped]
        out: list[str] = []
        for word in self.split(text):
            if self.unspaced(word):
                continue  # a pair of characters is already a whole term
            word = self.edge(word)
            out.extend(word[:size] for size in range(2, len(word) + 1))
        return out

    def is_stop(self, word: str) -> bool:
        return word in self.stop_words or (self.folds and fold(word) in self.stop_words)


def _elision_pattern(code: str) -> re.Pattern[str] | None:
    prefixes = _ELISIONS.get(code)
    if not prefixes:
        return None
    return re.compile(rf"\b(?:{'|'.join(prefixes.split())})['’](?=\w)")


@functools.lru_cache(maxsize=64)
def language(locale: str | None) -> Language:
    """The analysis of a locale's language (an unknown one: lower case, accents folded)."""
    code = language_of(locale)
    if code == ENGLISH:
        return ENGLISH_ONLY
    stemmer = stemmer_for_language(code) if has_stemmer(code) and code != "en" else None
    stop = set(stopwords_for_language(code)) if has_stopwords(code) else set()
    stop.update(_QUESTION_WORDS.get(code, "").split())
    arabic = code in _ARABIC_SCRIPT
    if arabic:
        stop.update(_ARABIC_STOP.split())
    folds = not arabic and code not in _SEGMENTED
    if folds:
        stop.update({fold(w) for w in stop})
    return Language(code=code, stemmer=stemmer, stop_words=frozenset(stop), folds=folds,
                    elisions=_elision_pattern(code), compounds=code in _COMPOUNDING,
                    segmented=code in _SEGMENTED, arabic=arabic)


# Today's analysis, and every article's in a generation built before languages existed.
ENGLISH_ONLY = Language(code=ENGLISH, stop_words=STOP_WORDS)

__all__ = ["ENGLISH", "ENGLISH_ONLY", "Language", "bigrams", "fold", "is_unspaced", "language",
           "language_of", "normalize_arabic"]
