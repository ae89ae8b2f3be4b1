"""Words as Deskbell reads them: one definition for search and for insights.

Owns splitting text into words, the stop words, Porter stemming (with its cache) and edit
distance. The search index, the query side of search and the clustering of visitors' queries
all use these, so a word means the same thing everywhere.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from whoosh.lang.porter import stem as _porter_stem

# Dropped from queries and query clusters, never from the index: "how do i reset my password"
# should rank (and group) by "reset" and "password", not by "how" and "i".
STOP_WORDS = frozenset(
    "a an and are as at be but by can do does for from how i if in into is it its me my no not "
    "of on or our so that the their then there these this to was we what when where which who "
    "why will with you your please help get".split()
)

_WORD = re.compile(r"\w+", re.UNICODE)
# Whoosh's default token pattern (RegexTokenizer): the index is tokenized with it, so stemming
# a query word the same way finds the same terms.
TOKEN = re.compile(r"[\w\*]+(?:\.?[\w\*]+)*")
_STEM_CACHE: dict[str, str] = {}
_STEM_CACHE_LIMIT = 200_000  # a bound for pathological input; words repeat a lot


def words(text: str) -> list[str]:
    """The runs of word characters in text, as written (no case change)."""
    return _WORD.findall(text)


def content_words(words: Sequence[str]) -> list[str]:
    """The words that are not stop words; all of them when every one is a stop word."""
    return [w for w in words if w not in STOP_WORDS] or list(words)


def stem(word: str) -> str:
    """The Porter stem of one lower-case word."""
    stemmed = _STEM_CACHE.get(word)
    if stemmed is None:
        if len(_STEM_CACHE) > _STEM_CACHE_LIMIT:
            _STEM_CACHE.clear()
        stemmed = _STEM_CACHE[word] = _porter_stem(word)
    return stemmed


def stem_tokens(text: str) -> list[str]:
    """What Whoosh's StemmingAnalyzer(stoplist=None) makes of text, without a Token object per
    word: the same token pattern, lower case, the same Porter stemmer. A test holds the two to
    the same output."""
    return [stem(token.lower()) for token in TOKEN.findall(text)]


@functools.lru_cache(maxsize=20000)
def stem_word(word: str) -> str:
    """The stem the index holds for one query word (the word itself if it has no token)."""
    tokens = stem_tokens(word)
    return tokens[0] if tokens else word


def edit_distance(a: str, b: str, limit: int, *, swaps: bool = False) -> int:
    """Levenshtein distance, or with `swaps` the optimal string alignment distance (two
    neighbouring letters swapped count as one edit). Gives up, returning limit + 1, once the
    distance must exceed limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if swaps and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb and ca != cb:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        # A swap reaches back two rows, so only both rows past the limit prove the end is too.
        if min(current) > limit and (not swaps or min(previous) > limit):
            return limit + 1
        before, previous = previous, current
    return previous[-1]


__all__ = ["STOP_WORDS", "TOKEN", "content_words", "edit_distance", "stem", "stem_tokens", "stem_word",
           "words"]
