"""Search queries as people type them: normalized, stemmed and grouped by meaning.

"Refunds", "refund" and "refnd" are one question; `cluster_queries` groups them by the stems of
their content words, then merges spellings within a small edit distance.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from .text import content_words, edit_distance, stem, words

MAX_TEXT = 500
MAX_QUERY = 200


def normalize_query(text: str) -> str:
    """NFKC, casefold, control characters as spaces, collapse whitespace, strip punctuation
    at both ends, at most 200 chars."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in text).split())
    text = _strip_punct(text)
    return _strip_punct(text[:MAX_QUERY])


def _strip_punct(text: str) -> str:
    start, end = 0, len(text)
    while start < end and _is_edge_junk(text[start]):
        start += 1
    while end > start and _is_edge_junk(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_edge_junk(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in {"P", "S"}


def public_page_url(url: str) -> str:
    """The page URL without query string, fragment or credentials (they can carry personal data)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return ""
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))[:MAX_TEXT]


def query_key(query: str) -> str:
    """Stemmed content words of a normalized query: "refunds" and "refund" share a key."""
    return " ".join(stem(w) for w in content_words(words(query)))


def _tolerance(key: str) -> int:
    return 0 if len(key) <= 3 else 1 if len(key) <= 7 else 2


@dataclass
class Cluster:
    """Queries that mean the same thing: one stem key, spellings within a small edit distance."""

    key: str
    variants: Counter[str] = field(default_factory=Counter)

    @property
    def label(self) -> str:
        return self.variants.most_common(1)[0][0]

    @property
    def count(self) -> int:
        return sum(self.variants.values())


def cluster_queries(counts: Mapping[str, int]) -> dict[str, Cluster]:
    """Group queries; returns query -> its cluster. Frequent spellings become cluster heads."""
    by_key: Counter[str] = Counter()
    for query, n in counts.items():
        by_key[query_key(query)] += n
    heads: list[Cluster] = []
    key_cluster: dict[str, Cluster] = {}
    for key, _ in sorted(by_key.items(), key=lambda kv: (-kv[1], kv[0])):
        home = next((c for c in heads if edit_distance(key, c.key, _tolerance(c.key)) <=
                     _tolerance(c.key)), None)
        if home is None:
            home = Cluster(key)
            heads.append(home)
        key_cluster[key] = home
    result = {}
    for query, n in counts.items():
        cluster = key_cluster[query_key(query)]
        cluster.variants[query] += n
        result[query] = cluster
    return result


__all__ = ["Cluster", "cluster_queries", "edit_distance", "normalize_query", "public_page_url",
           "query_key"]
