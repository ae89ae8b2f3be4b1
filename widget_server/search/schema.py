"""The Whoosh schema of an index generation, and how one article becomes a document of it.

Owns the fields and their analyzers, the document an article is filed as, and the unstemmed
word counts typo correction learns from. Text fields are analyzed here (with the shared
stemmer in widget_server.text), so the index writer only files postings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from whoosh.analysis import NgramFilter, StandardAnalyzer, StemmingAnalyzer
from whoosh.fields import ID, STORED, TEXT, Schema

from ..articles import Article
from ..markup import Rendered
from ..text import stem_tokens, words

# The text fields analyzed with the stemmer; a query word is looked up in all of them at once.
STEMMED_FIELDS = ("title", "summary", "headings", "body", "keywords")
_EDGE = StandardAnalyzer(stoplist=None) | NgramFilter(minsize=2, maxsize=15, at="start")


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
        edges=TEXT(analyzer=_EDGE, field_boost=1.5, phrase=False),
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


def word_counts(title: str, summary: str, keywords: str, text: str) -> Counter[str]:
    """The unstemmed words of one article, as typo correction sees them."""
    return Counter(words(f"{title}\n{summary}\n{keywords}\n{text}".lower()))


def prepare(article: Article) -> tuple[dict[str, Any], Counter[str]]:
    """One article's document for Whoosh's writer, its text fields already analyzed (tokens
    as lists, which the writer takes as they are), and its word counts.

    Rendering and analysis are most of a build's cost and independent per article, so large
    builds run this in worker processes while the writer only files postings.
    """
    document = _document(article, article.render())
    counts = word_counts(article.title, article.summary, document["keywords"], document["text"])
    for name in STEMMED_FIELDS:
        document[name] = stem_tokens(document[name])
    document["edges"] = [t.text for t in _EDGE(document["edges"], mode="index") if not t.stopped]
    return document, counts
