"""The Whoosh schema of an index generation, and how one article becomes a document of it.

Owns the fields and their analyzers, the document an article is filed as, and the unstemmed
word counts typo correction learns from. Text fields are analyzed here, each article with its
own locale's `Language` (analysis.py), so the index writer only files postings. All languages
share the fields; a query is only ever scored against articles of the locale it was analyzed
for, so one language's stems never meet another's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import ID, STORED, TEXT, Schema

from ..articles import Article
from ..markup import Rendered
from .analysis import EDGE_ANALYZER, ENGLISH_ONLY, Language, language

# The text fields analyzed with the stemmer; a query word is looked up in all of them at once.
STEMMED_FIELDS = ("title", "summary", "headings", "body", "keywords")
# In languages that write compounds as one word, the body's long words get beginnings too, so
# a query word matches the compounds it starts ("passwort" → "Passwortänderung").
COMPOUND_MIN_LETTERS = 8


def make_schema() -> Schema:
    # phrase=False: queries are bags of words, so term frequencies are all BM25F needs; not
    # storing positions makes every posting cheaper to write and the index smaller.
    stem = StemmingAnalyzer(stoplist=None)
    return Schema(
        slug=ID(stored=True, unique=True),
        title=TEXT(analyzer=stem, field_boost=4.0, phrase=False),
        summary=TEXT(analyzer=stem, field_boost=2.0, phrase=False),
        headings=TEXT(analyzer=stem, field_boost=1.5, phrase=False),
        body=TEXT(analyzer=stem, phrase=False),
        keywords=TEXT(analyzer=stem, field_boost=2.5, phrase=False),
        # Word beginnings of titles, headings, summary and keywords: the as-you-type prefix.
        edges=TEXT(analyzer=EDGE_ANALYZER, field_boost=1.5, phrase=False),
        category=ID(stored=True),
        locale=ID(stored=True),
        html=STORED(),
        text=STORED(),
    )


def keywords(tags: Iterable[str], aliases: Iterable[str]) -> str:
    return " ".join([*tags, *(a.replace("/", " ").replace("-", " ") for a in aliases)])


def _document(article: Article, rendered: Rendered) -> dict[str, Any]:
    article_keywords = keywords(article.tags, article.aliases)
    headings = " ".join(rendered.headings)
    edges = " ".join([article.title, article.summary, headings, article_keywords])
    return {
        "slug": article.slug, "title": article.title, "summary": article.summary,
        "headings": headings, "body": rendered.text, "keywords": article_keywords,
        "edges": edges, "category": article.category.lower(), "locale": article.locale,
        "html": rendered.html, "text": rendered.text,
    }


def word_counts(title: str, summary: str, keywords: str, text: str,
                analysis: Language = ENGLISH_ONLY) -> Counter[str]:
    """The unstemmed words of one article, as typo correction sees them."""
    return Counter(analysis.words(f"{title}\n{summary}\n{keywords}\n{text}"))


def analysis_of(locale: str, per_locale: bool) -> Language:
    """How an article in `locale` is analyzed: by its language, or (a generation built before
    languages existed, and the benchmark's baseline) as English."""
    return language(locale) if per_locale else ENGLISH_ONLY


def prepare(article: Article, per_locale: bool = True) -> tuple[dict[str, Any], Counter[str]]:
    """One article's document for Whoosh's writer, its text fields already analyzed (tokens
    as lists, which the writer takes as they are), and its word counts.

    Rendering and analysis are most of a build's cost and independent per article, so large
    builds run this in worker processes while the writer only files postings.
    """
    analysis = analysis_of(article.locale, per_locale)
    document = _document(article, article.render())
    counts = word_counts(article.title, article.summary, document["keywords"], document["text"],
                         analysis)
    edges = analysis.edges(document["edges"])
    if analysis.compounds:
        long_words = {w for w in analysis.split(document["body"]) if len(w) >= COMPOUND_MIN_LETTERS}
        edges.extend(edge for word in sorted(long_words) for edge in analysis.edges(word))
    for name in STEMMED_FIELDS:
        document[name] = analysis.terms(document[name])
    document["edges"] = edges
    return document, counts
