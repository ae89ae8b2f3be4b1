"""Words, stemming and edit distance: the one definition search and insights share."""

from __future__ import annotations

import random

from whoosh.analysis import StemmingAnalyzer
from whoosh.support.levenshtein import damerau_levenshtein, levenshtein

from widget_server.text import content_words, edit_distance, stem_word


def _random_words(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choice("abcde") for _ in range(rng.randint(0, 8))) for _ in range(count)]


def test_edit_distance_within_a_limit_agrees_with_whoosh() -> None:
    rng = random.Random(3)
    words = _random_words(rng, 300)
    for a, b in zip(words, reversed(words), strict=True):
        for limit in (1, 2):
            assert (edit_distance(a, b, limit) <= limit) == (levenshtein(a, b) <= limit)
            assert (edit_distance(a, b, limit, swaps=True) <= limit) == (
                damerau_levenshtein(a, b) <= limit)
    assert edit_distance("refund", "refnud", 1, swaps=True) == 1
    assert edit_distance("refund", "refnud", 1) == 2


def test_a_query_word_stems_as_the_index_analyzer_does() -> None:
    analyzer = StemmingAnalyzer(stoplist=None)
    for word in ["running", "duck.ai", "v2.1", "passwords", "naïve", "ﬁle", "x"]:
        assert stem_word(word) == [t.text for t in analyzer(word)][0]


def test_content_words_keep_every_word_when_all_are_stop_words() -> None:
    assert content_words(["how", "do", "i", "reset", "my", "password"]) == ["reset", "password"]
    assert content_words(["how", "do", "i"]) == ["how", "do", "i"]
