"""One opened index generation: its searcher, catalog, typo vocabulary, vectors and result cache.

A search runs in four steps (see `Generation._search`): lexical scoring of the query's clauses
over the generation's postings; the ranker ordering those candidates (by words alone, or fused
with the meaning of the query when the generation has vectors), with a confidence; building
hits with snippets from what the index stores; and, when the confidence clears the
generation's calibrated threshold, quoting the best section of the first article as the answer.

Languages: a query is analyzed with its locale's `Language` and scored only against that
locale's articles, with that locale's typo vocabulary and synonyms; when they give nothing it
runs again in the site's default locale, analyzed as that language, and the result says it is
a fallback. The model reads English only: it ranks English articles, other locales rank by
words (their confidence is the share of the query's words found, against the words' threshold).
"""

from __future__ import annotations

import dataclasses
import heapq
import operator
import re
from collections import Counter, OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import scoring

from ..articles import article_path
from ..markup import sanitize_html
from . import calibration
from .analysis import ENGLISH, ENGLISH_ONLY, Language, language, language_of
from .embedding import MODEL_OFF, Encoder
from .engine import Impacts
from .layout import read_analysis, read_catalog, read_locale_words
from .query import Clause, Synonyms, build_query, query_words
from .rank import LEXICAL_CANDIDATES, Candidate, HybridRanker, LexicalRanker, Ranked, Ranker
from .results import Answer, Hit, SearchResult, encode_json
from .sections import split_sections
from .snippets import make_snippet
from .typos import Vocabulary
from .vectors import Vectors, VectorsUnusable

RESULT_CACHE_SIZE = 1024  # ~15 MB of hits with snippets
QUERY_VECTOR_CACHE = 2048  # ~3 MB; a visitor's finished query is often asked again
QUERY_TOKENS = 64
NEAREST_FLOOR = 0.3  # cosine an article found by meaning alone needs to be listed
ANSWER_MAX_HTML = 4000
OPENING_MARGIN = 0.05  # a long section is quoted up to the end of a block near this size
# Contractions the tokenizer would split into fragments the model reads poorly.
_CONTRACTIONS = (("won't", "will not"), ("can't", "cannot"), ("n't", " not"), ("'re", " are"),
                 ("'m", " am"), ("'ll", " will"), ("'ve", " have"), ("'d", " would"), ("'s", ""))
_BLOCK_END = re.compile(r"</(?:p|ul|ol|pre|table|blockquote|dl|details)>")
# Each further query word a document matches raises its score by this share (spread over the
# query's other words).
COORD_BONUS = 0.1
# The one language the bundled model reads (all-MiniLM-L6-v2 was trained on English).
MODEL_LANGUAGE = ENGLISH


class Speller:
    """One locale's words: known, corrected (cached), accents given back."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary
        self._cache: dict[str, list[str]] = {}

    def known(self, word: str) -> bool:
        return word in self.vocabulary

    def corrections(self, word: str) -> list[str]:
        if word not in self._cache:
            if len(self._cache) > 5000:
                self._cache.clear()
            self._cache[word] = self.vocabulary.corrections(word)
        return self._cache[word]

    def restore(self, word: str) -> str:
        return self.vocabulary.restore(word)


@dataclasses.dataclass(frozen=True)
class Scope:
    """Where a query is looked up: the locale whose articles it is scored against (None: all
    of them), how its words are read, and whether this is the default locale standing in for
    the visitor's."""

    locale: str | None
    language: Language
    fallback: bool = False


class Generation:
    """One opened index generation: a searcher and the catalog. Used from one thread at a time."""

    def __init__(self, index_dir: Path, name: str, encoder: Encoder | None = None,
                 threshold: float | None = None, default_locale: str = ENGLISH):
        self.name = name
        self.path = index_dir / name
        self.index = whoosh_index.open_dir(str(self.path))
        self.searcher = self.index.searcher(weighting=scoring.BM25F(B=0.75, K1=1.2))
        self.impacts = Impacts(self.searcher)
        self.catalog = read_catalog(self.path)
        self.aliases = {alias: slug for slug, meta in self.catalog.items() for alias in meta["aliases"]}
        # A generation built before languages analyzed every article as English.
        self.per_locale = bool(read_analysis(self.path).get("per_locale"))
        self.spellers = {locale: Speller(Vocabulary(counts))
                         for locale, counts in read_locale_words(self.path).items()}
        self.locales = Counter(meta.get("locale") or ENGLISH for meta in self.catalog.values())
        self.default_locale = self._locale_of(default_locale) or (
            self.locales.most_common(1)[0][0] if self.locales else ENGLISH)
        self._results: OrderedDict[tuple[str, int, str | None, bool], SearchResult] = OrderedDict()
        self._query_vectors: OrderedDict[str, Any] = OrderedDict()
        self._docnums: dict[str, int] = {}
        self._slugs: dict[int, str] = {}
        self._by_locale: dict[str, frozenset[int]] = {}
        self.encoder = encoder
        self.fixed_threshold = threshold
        self.ranker: Ranker = LexicalRanker()
        self.vectors: Vectors | None = None
        # Why this generation ranks by words alone, when it does ("" when it ranks by meaning).
        self.semantic_note = MODEL_OFF if encoder is None else ""
        self.calibration = calibration.Calibration.load(self.path)
        self.attach_vectors()

    def attach_vectors(self) -> bool:
        """Rank by meaning once this generation's vectors exist; True if that changed anything.
        Damaged or foreign vector files leave it ranking by words, and say why."""
        if self.encoder is None or self.vectors is not None:
            return False
        if not Vectors.present(self.path):
            self.semantic_note = "vectors are being built; ranking by words until they are ready"
            return False
        try:
            self.vectors = Vectors.open(self.path, self.encoder.identity)
        except VectorsUnusable as exc:
            self.semantic_note = f"ranking by words only: {exc}"
            return False
        self.ranker = HybridRanker(self.vectors.article_vectors, self.vectors.row_of,
                                   self.vectors.section_vectors, self.vectors.spans)
        self.semantic_note = ""
        self.calibration = calibration.Calibration.load(self.path) or self.calibration
        self._results.clear()
        return True

    @property
    def semantic(self) -> bool:
        return self.ranker.semantic

    @property
    def threshold(self) -> float:
        return self.threshold_for(self.semantic)

    def threshold_for(self, semantic: bool) -> float:
        """The answer threshold of a ranking by meaning (or by words)."""
        if self.fixed_threshold is not None:
            return self.fixed_threshold
        found = self.calibration.for_ranker(semantic) if self.calibration else None
        return found if found is not None else calibration.DEFAULT_THRESHOLD[semantic]

    def model_reads(self, locale: str | None) -> bool:
        """Whether the model reads this locale's articles: it reads English only (before
        languages, every article went to it)."""
        return self.encoder is not None and (
            not self.per_locale or language_of(locale) == MODEL_LANGUAGE)

    def by_meaning(self, locale: str | None) -> bool:
        """Whether queries in this locale are ranked by meaning; other locales rank by words."""
        return self.semantic and self.model_reads(locale)

    def _locale_of(self, wanted: str | None) -> str | None:
        """The knowledge base's locale for a visitor's: the same ("es-MX"), else the one of
        the same language with most articles ("es-MX" → "es"); None when it has none."""
        if not wanted:
            return None
        wanted = wanted.replace("_", "-").lower()
        by_name = {locale.lower(): locale for locale in self.locales}
        if wanted in by_name:
            return by_name[wanted]
        same = [loc for loc, _ in self.locales.most_common() if language_of(loc) == language_of(wanted)]
        return same[0] if same else None

    def scopes(self, locale: str | None) -> list[Scope]:
        """Where to look, in order: the visitor's locale, then the site default's (a fallback).
        No locale asks in the default locale; a locale the knowledge base does not have goes
        straight to the fallback."""
        default = self.default_locale
        wanted = self._locale_of(locale)
        first = wanted or default
        scopes = [Scope(first, self.language(first), fallback=bool(locale) and wanted is None)]
        if first != default:
            scopes.append(Scope(default, self.language(default), fallback=True))
        return scopes

    def language(self, locale: str | None) -> Language:
        return language(locale) if self.per_locale else ENGLISH_ONLY

    def speller(self, locale: str | None) -> Speller:
        key = (locale or ENGLISH) if self.per_locale else ""
        found = self.spellers.get(key)
        if found is None:
            found = self.spellers[key] = Speller(Vocabulary({}))
        return found

    @property
    def vocabulary(self) -> Vocabulary:
        """The default locale's words (all words, for a generation of before languages)."""
        return self.speller(self.default_locale).vocabulary

    def close(self) -> None:
        self.searcher.close()
        self.index.close()

    def warm(self, keys: Iterable[tuple[str, str]]) -> None:
        """Load what the first queries will need: field lengths, the terms in recent use and the
        typo index."""
        self.impacts.warm(keys)
        self.vocabulary.corrections("warm")

    def known(self, word: str, locale: str | None = None) -> bool:
        return self.speller(locale or self.default_locale).known(word)

    def corrections(self, word: str, locale: str | None = None) -> list[str]:
        return self.speller(locale or self.default_locale).corrections(word)

    def synonyms_for(self, synonyms: Synonyms, locale: str | None) -> Synonyms:
        if not self.per_locale:
            return synonyms
        return synonyms.for_locale(locale or self.default_locale, self.default_locale)

    def build_query(self, text: str, synonyms: Synonyms, prefix_last: bool = True,
                    locale: str | None = None) -> tuple[list[Clause], list[str]]:
        """Words become (field, term) lookups, read as the locale's language, corrected
        against that locale's words, with its synonyms."""
        locale = locale or self.default_locale
        return build_query(text, self.synonyms_for(synonyms, locale), self.speller(locale),
                           prefix_last, self.language(locale))

    def search(self, text: str, limit: int, synonyms: Synonyms, locale: str | None = None,
               instant: bool = False) -> SearchResult:
        """`instant`: a keystroke of a query still being typed. It is ranked by words alone and
        never answered, so the search box keeps up; the finished query gets the full ranking."""
        key = (" ".join(query_words(text)) + (" " if text[-1:].isspace() else ""), limit, locale,
               instant or not self.semantic)
        cached = self._results.get(key)
        if cached is None:
            cached = self._search(text, limit, synonyms, locale, instant)
            self._results[key] = cached
            if len(self._results) > RESULT_CACHE_SIZE:
                self._results.popitem(last=False)
        else:
            self._results.move_to_end(key)
        return dataclasses.replace(cached, query=text)

    def _search(self, text: str, limit: int, synonyms: Synonyms, locale: str | None,
                instant: bool = False) -> SearchResult:
        scopes = self.scopes(locale)
        for scope in scopes:
            ranked, confidence, terms, total, vector = self._rank(text, synonyms, scope, instant,
                                                                  limit)
            if ranked:
                break
        answer = None
        threshold = self.threshold_for(vector is not None)
        if ranked and not instant and confidence >= threshold:
            answer = self._answer(ranked[0].candidate.slug, vector, terms, confidence)
        wanted = self._locale_of(locale) or scopes[0].locale
        hits = [hit for r in ranked[:limit]
                if (hit := self._hit(r.candidate.docnum, r.score, terms, scope.language, wanted))]
        return SearchResult(query=text, total=total, hits=hits, terms=terms,
                            confidence=confidence, answer=answer, locale=scope.locale,
                            fallback=scope.fallback and bool(ranked),
                            hits_json=encode_json([h.as_dict() for h in hits]))

    def rank(self, text: str, synonyms: Synonyms, locale: str | None = None, instant: bool = False,
             limit: int = 10) -> tuple[list[Ranked], float, list[str], int, Any]:
        """The candidates in order, the confidence, the words to highlight, how many documents
        match, and the query's vector (None when ranked by words), in the first scope of the
        locale that finds anything."""
        found: tuple[list[Ranked], float, list[str], int, Any] = ([], 0.0, [], 0, None)
        for scope in self.scopes(locale):
            found = self._rank(text, synonyms, scope, instant, limit)
            if found[0]:
                break
        return found

    def _rank(self, text: str, synonyms: Synonyms, scope: Scope, instant: bool,
              limit: int) -> tuple[list[Ranked], float, list[str], int, Any]:
        locale = scope.locale
        clauses, terms = self.build_query(text, synonyms, locale=locale)
        synonyms = self.synonyms_for(synonyms, locale)  # the locale's own groups from here on
        words = max(1, len(clauses) - len(synonyms.expand(text)))
        totals, matched, total = self._score(clauses) if clauses else ({}, {}, 0)
        if len(self.locales) > 1 and locale:  # one locale's articles, read in its language
            allowed = self._locale_docs(locale)
            totals = {d: s for d, s in totals.items() if d in allowed}
            total = len(totals)
        by_meaning = self.by_meaning(locale) and not instant and bool(clauses)
        # Words alone need only the page of hits; the reranker looks further down the list.
        count = LEXICAL_CANDIDATES if by_meaning else limit
        top = heapq.nlargest(count, totals.items(), key=operator.itemgetter(1))
        def candidate(docnum: int, slug: str) -> Candidate:
            return Candidate(docnum, slug, totals.get(docnum, 0.0),
                             min(1.0, matched.get(docnum, 0) / words))

        candidates = {d: candidate(d, self._slug(d)) for d, _ in top}
        vector = None
        if by_meaning:
            vector = self.query_vector(text, synonyms, locale)
            # A word or two that articles hold as typed ("refund", "delete account") lists
            # the articles that say it; a question, or words no article holds all of ("get my
            # money back"), also brings the articles nearest in meaning.
            complete = words <= 2 and any(c.coverage >= 1.0 for c in candidates.values())
            for slug in [] if complete else self._nearest(vector, locale):
                docnum = self._docnum(slug)
                if docnum is not None and docnum not in candidates:
                    candidates[docnum] = candidate(docnum, slug)
        candidates = {d: c for d, c in candidates.items() if c.slug}
        names = any("." in word for word in query_words(text))
        ranker = self.ranker if by_meaning else LexicalRanker()
        ranked, confidence = ranker.rank(list(candidates.values()), vector, names)
        return ranked, confidence, terms, max(total, len(ranked)), vector if by_meaning else None

    def explain(self, text: str, synonyms: Synonyms, limit: int,
                locale: str | None = None) -> list[dict[str, Any]]:
        """Why each of the first `limit` articles ranks where it does, for `deskbell search
        --explain`: its word score, the share of query words it holds, its cosine with the
        query and the fused score."""
        ranked, *_ = self.rank(text, synonyms, locale, limit=limit)
        return [{
            "slug": r.candidate.slug, "title": self.catalog[r.candidate.slug]["title"],
            "lexical": round(r.candidate.lexical, 3), "coverage": round(r.candidate.coverage, 3),
            "semantic": None if r.semantic is None else round(r.semantic, 3),
            "score": round(r.score, 3),
            "found_by": "meaning only" if r.candidate.lexical == 0 else
                        "words and meaning" if r.semantic is not None else "words",
        } for r in ranked[:limit]]

    def _nearest(self, vector: Any, locale: str | None) -> list[str]:
        assert isinstance(self.ranker, HybridRanker) and self.vectors is not None
        rows = self.vectors.rows
        # Unrelated articles are still someone's nearest: only near ones join the candidates.
        slugs = [rows[row][0] for row, cosine in self.ranker.nearest(vector) if cosine >= NEAREST_FLOOR]
        if locale and len(self.locales) > 1:
            slugs = [s for s in slugs if self.catalog.get(s, {}).get("locale") in (locale, None)]
        return slugs

    def semantic_text(self, text: str, synonyms: Synonyms | None = None,
                      locale: str | None = None) -> str:
        """The query as the model should read it: contractions spelled out, misspellings
        corrected and a half-typed last word completed from this knowledge base's words, so
        the model never embeds a fragment ("pasword resett" reads "password reset")."""
        speller = self.speller(locale or self._locale_of(MODEL_LANGUAGE) or self.default_locale)
        lowered = text.lower()
        for short, full in _CONTRACTIONS:
            lowered = lowered.replace(short, full)
        words = query_words(lowered, max_words=32)
        partial = bool(words) and not text[-1:].isspace()
        out: list[str] = []
        for position, word in enumerate(words):
            last = partial and position == len(words) - 1
            if speller.known(word) or word.isdigit() or "." in word or len(word) < 3:
                out.append(word)
            elif last and (completed := speller.vocabulary.complete(word)):
                out.append(completed)
            elif len(word) >= 4 and not self._model_knows(word) and (fixes := speller.corrections(word)):
                # Only a word the model does not know is a misspelling: "attach" stays itself
                # even where the articles only ever say "attack".
                out.append(fixes[0])
            elif not last:
                out.append(word)
        # The owner's synonyms say what the site's words mean: the model reads them too.
        extra = synonyms.expand(text) if synonyms else []
        return " ".join([*out, *extra]) or lowered

    def prime(self, texts: list[str]) -> None:
        """Encode many questions in batches ahead of asking them (calibration)."""
        assert self.encoder is not None
        keys = list(dict.fromkeys(self.semantic_text(t) for t in texts))
        for key, vector in zip(keys, self.encoder.encode(keys, QUERY_TOKENS), strict=True):
            self._query_vectors[key] = vector

    def _model_knows(self, word: str) -> bool:
        return self.encoder is not None and self.encoder.knows(word)

    def query_vector(self, text: str, synonyms: Synonyms | None = None,
                     locale: str | None = None) -> Any:
        assert self.encoder is not None
        key = self.semantic_text(text, synonyms, locale)
        vector = self._query_vectors.get(key)
        if vector is None:
            vector = self.encoder.encode([key], QUERY_TOKENS)[0]
            self._query_vectors[key] = vector
            if len(self._query_vectors) > QUERY_VECTOR_CACHE:
                self._query_vectors.popitem(last=False)
        else:
            self._query_vectors.move_to_end(key)
        return vector

    def _answer(self, slug: str, vector: Any, terms: list[str], confidence: float) -> Answer | None:
        """The section of `slug` that best answers the query, quoted as the article has it."""
        meta = self.catalog.get(slug)
        sections = split_sections((self.document(slug) or {}).get("html", ""))
        if meta is None or not sections:
            return None
        best = sections[0]
        if vector is not None and self.vectors is not None:
            start, end = self.vectors.spans.get(slug, (0, 0))
            if end > start:
                scores = self.vectors.section_vectors[start:end].astype("float32") @ vector
                if end - start > 1 and not self.vectors.sections[start][0]:
                    # The opening introduces the article; a section under a heading answers
                    # one question. The opening is quoted only when clearly nearer.
                    scores[0] -= OPENING_MARGIN
                anchor = self.vectors.sections[start + int(scores.argmax())][0]
                best = next((s for s in sections if s.anchor == anchor), best)
        else:  # by words: the section that holds most of the query's words
            lowered = [t.lower() for t in terms]
            best = max(sections, key=lambda s: sum(t in s.text.lower() for t in lowered))
        return Answer(slug=slug, title=meta["title"], heading=best.heading, anchor=best.anchor,
                      html=_quote(best.html), confidence=confidence)

    def _slug(self, docnum: int) -> str:
        slug = self._slugs.get(docnum)
        if slug is None:
            slug = self.searcher.stored_fields(docnum).get("slug", "")
            slug = self._slugs[docnum] = slug if slug in self.catalog else ""
        return slug

    def _docnum(self, slug: str) -> int | None:
        if slug not in self._docnums:
            found = self.searcher.document_number(slug=slug)
            if found is None:
                return None
            self._docnums[slug] = found
        return self._docnums[slug]

    def _score(self, clauses: list[Clause]) -> tuple[dict[int, float], dict[int, int], int]:
        """Scores of the candidate documents, how many of the query's words each matched, and
        how many documents match at all."""
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
        return totals, matched, len(matching)

    def _hit(self, docnum: int, score: float, terms: list[str], analysis: Language,
             wanted: str | None) -> Hit | None:
        stored = self.searcher.stored_fields(docnum)
        meta = self.catalog.get(stored.get("slug", ""))
        if meta is None:
            return None
        locale = meta.get("locale") or ENGLISH
        return Hit(
            slug=meta["slug"], title=meta["title"], url=article_path(meta["slug"]),
            snippet=make_snippet(stored.get("text", ""), terms, fallback=meta["summary"],
                                 stem=analysis.term),
            category=meta["category"], summary=meta["summary"], score=score, locale=locale,
            translation=None if locale == wanted else self.translation(meta, wanted),
        )

    def translation(self, meta: dict[str, Any], locale: str | None) -> str | None:
        """The slug of the article's translation into `locale`, when the knowledge base says it
        has one (the catalog's `translations`, {locale: slug}; a catalog of before languages
        has none to offer)."""
        slug = meta.get("translations", {}).get(locale) if locale else None
        return str(slug) if slug is not None and str(slug) in self.catalog else None

    def _locale_docs(self, locale: str) -> frozenset[int]:
        """The documents of one locale's articles, gathered once per generation."""
        found = self._by_locale.get(locale)
        if found is None:
            found = self._by_locale[locale] = frozenset(self.impacts.docs("locale", locale))
        return found

    def document(self, slug: str) -> dict[str, Any] | None:
        stored: dict[str, Any] | None = self.searcher.document(slug=slug)
        return stored


def _quote(html: str) -> str:
    """A section's HTML, cut after the block that crosses ANSWER_MAX_HTML, and sanitized again:
    the cut (or a heading nested in raw HTML) may leave a tag open, which the sanitizer closes."""
    if len(html) > ANSWER_MAX_HTML:
        ends = [m.end() for m in _BLOCK_END.finditer(html)]
        cut = next((e for e in ends if e >= ANSWER_MAX_HTML), len(html))
        html = html[:cut]
    return sanitize_html(html)
