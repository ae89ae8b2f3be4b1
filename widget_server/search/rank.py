"""Ranking: lexical candidates in, an ordered list and a confidence out.

The engine scores documents by words (BM25F over the stemmed fields, with typo and prefix
options); a `Ranker` orders those candidates and says how sure it is that the first one
answers the query. Two rankers exist:

- `LexicalRanker`: the word scores as they are. Confidence is the share of the query's words
  that the first article contains (a list that matches one word in four is not an answer).
- `HybridRanker`: the word scores fused with the meaning of the query, measured as the cosine
  between the query's vector and each candidate article's vector (or its nearest section's,
  whichever is closer); the articles nearest by
  vector join the candidates, so an article that shares no word with the query ("get my money
  back" → "Refunds") can still be found. Confidence adds the cosine to word coverage.

Both are pure functions of their inputs: the same query on the same generation ranks the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

# Chosen on the Arduino and DuckDuckGo query sets by mean MRR@10 and checked on the Disroot
# set (benchmarks/search_quality.py; the grid and figures are in the README). The word score
# keeps a fifth of the weight: it still decides between articles that mean the same.
LEXICAL_WEIGHT = 0.2  # the meaning (cosine, scaled over the candidates) weighs the rest
LEXICAL_CANDIDATES = 50
MIN_SPREAD = 0.3
# A query that names something the model cannot read (duck.ai, v2.1) is ranked mostly by words.
NAME_LEXICAL_WEIGHT = 0.7
VECTOR_CANDIDATES = 10
# Confidence = half the best cosine, half the share of query words the article holds.
COSINE_SHARE = 0.5


@dataclass(frozen=True)
class Candidate:
    docnum: int
    slug: str
    lexical: float  # the engine's score; 0 for an article found by vector only
    coverage: float  # share of the query's words the article matched, 0..1


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    score: float
    semantic: float | None  # cosine with the query, when ranked by meaning


class Ranker(Protocol):
    semantic: bool

    def rank(self, candidates: Sequence[Candidate], query_vector: Any | None,
             names: bool = False) -> tuple[list[Ranked], float]:
        """Candidates in order, best first, and the confidence (0..1) of the first. `names`:
        the query holds a dotted name, which words judge better than meaning."""
        ...


class LexicalRanker:
    semantic = False

    def rank(self, candidates: Sequence[Candidate], query_vector: Any | None = None,
             names: bool = False) -> tuple[list[Ranked], float]:
        ranked = [Ranked(c, c.lexical, None)
                  for c in sorted(candidates, key=lambda c: (-c.lexical, c.docnum))]
        return ranked, ranked[0].candidate.coverage if ranked else 0.0


class HybridRanker:
    semantic = True

    def __init__(self, article_vectors: Any, row_of: dict[str, int],
                 section_vectors: Any = None, spans: dict[str, tuple[int, int]] | None = None,
                 lexical_weight: float = LEXICAL_WEIGHT,
                 vector_candidates: int = VECTOR_CANDIDATES, cosine_share: float = COSINE_SHARE,
                 min_spread: float = MIN_SPREAD):
        self.vectors = article_vectors
        self.row_of = row_of
        self.section_vectors = section_vectors
        self.spans = spans or {}
        self.lexical_weight = lexical_weight
        self.min_spread = min_spread
        self.vector_candidates = vector_candidates
        self.cosine_share = cosine_share

    def nearest(self, query_vector: Any) -> list[tuple[int, float]]:
        """Rows of the articles nearest the query by meaning, with their cosines."""
        count = min(self.vector_candidates, self.vectors.shape[0])
        if count <= 0:
            return []
        cosines = self.vectors @ query_vector
        top = np.argpartition(-cosines, count - 1)[:count]
        return [(int(row), float(cosines[row])) for row in top]

    def similarity(self, slug: str, query_vector: Any) -> float:
        """How close an article is to the query: its own vector's cosine or its best
        section's, whichever is nearer (a long article about many things is near a question
        about one of them)."""
        row = self.row_of.get(slug)
        if row is None:
            return 0.0
        article = float(self.vectors[row] @ query_vector)
        start, end = self.spans.get(slug, (0, 0))
        if self.section_vectors is None or end <= start:
            return article
        best = float((self.section_vectors[start:end].astype(np.float32) @ query_vector).max())
        return max(article, best)

    def rank(self, candidates: Sequence[Candidate], query_vector: Any | None,
             names: bool = False) -> tuple[list[Ranked], float]:
        if query_vector is None or not candidates:
            return LexicalRanker().rank(candidates)
        weight = max(self.lexical_weight, NAME_LEXICAL_WEIGHT) if names else self.lexical_weight
        cosines = [self.similarity(c.slug, query_vector) for c in candidates]
        top_lexical = max(c.lexical for c in candidates) or 1.0
        low, high = min(cosines), max(cosines)
        # Cosines are scaled over the candidates, but a spread narrower than MIN_SPREAD is not
        # stretched to the full range: among a few close candidates, 0.11 against 0.07 is not
        # a difference in meaning worth overruling the words for.
        spread = max(high - low, self.min_spread) or 1.0
        ranked = [
            Ranked(c, weight * c.lexical / top_lexical + (1 - weight) * (cos - low) / spread, cos)
            for c, cos in zip(candidates, cosines, strict=True)
        ]
        ranked.sort(key=lambda r: (-r.score, r.candidate.docnum))
        best = ranked[0]
        return ranked, confidence(best.semantic or 0.0, best.candidate.coverage, self.cosine_share)


def confidence(cosine: float, coverage: float, cosine_share: float = COSINE_SHARE) -> float:
    return max(0.0, min(1.0, cosine_share * cosine + (1 - cosine_share) * coverage))
