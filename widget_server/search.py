"""Search: the Whoosh schema, building an index generation aside and swapping it in, querying.

Layout under <data_dir>/index/:
  CURRENT          name of the live generation, replaced atomically (os.replace)
  gen-000007/      a complete Whoosh index + catalog.json (article metadata, in memory on serve)
  reindex.lock     held by the one reindex allowed at a time

Readers never see a half-built generation: a reindex writes `gen-N.tmp`, renames it to `gen-N`,
then points CURRENT at it. A crash anywhere before the last step leaves the old one serving.
Public queries never reach Whoosh's query language: `build_query` turns words into Term objects.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import filelock
from whoosh import index as whoosh_index
from whoosh import query as Q
from whoosh import scoring
from whoosh.analysis import NgramFilter, StandardAnalyzer, StemmingAnalyzer
from whoosh.fields import ID, STORED, TEXT, Schema

from .articles import Article, load_kb

# Stop words are dropped from queries (not from the index): "how do i reset my password"
# should rank by "reset" and "password", not by "how" and "i".
STOP_WORDS = frozenset(
    "a an and are as at be but by can do does for from how i if in into is it its me my no not "
    "of on or our so that the their then there these this to was we what when where which who "
    "why will with you your please help get".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)
_EDGE = StandardAnalyzer(stoplist=None) | NgramFilter(minsize=2, maxsize=15, at="start")


def make_schema() -> Schema:
    stem = StemmingAnalyzer(stoplist=None)
    return Schema(
        slug=ID(stored=True, unique=True),
        title=TEXT(analyzer=stem, field_boost=4.0),
        summary=TEXT(analyzer=stem, field_boost=2.0),
        headings=TEXT(analyzer=stem, field_boost=1.5),
        body=TEXT(analyzer=stem),
        keywords=TEXT(analyzer=stem, field_boost=2.5),
        # Unstemmed words with a spelling graph: typo correction looks words up here.
        words=TEXT(analyzer=StandardAnalyzer(stoplist=None), spelling=True),
        # Word beginnings of titles, headings, summary and keywords: the as-you-type prefix.
        edges=TEXT(analyzer=_EDGE, field_boost=1.5),
        category=ID(stored=True),
        locale=ID(stored=True),
        html=STORED(),
        text=STORED(),
    )


def _document(article: Article) -> dict[str, Any]:
    rendered = article.render()
    keywords = " ".join([*article.tags, *(a.replace("/", " ").replace("-", " ") for a in article.aliases)])
    headings = " ".join(rendered.headings)
    edges = " ".join([article.title, article.summary, headings, keywords])
    return {
        "slug": article.slug, "title": article.title, "summary": article.summary,
        "headings": headings, "body": rendered.text, "keywords": keywords,
        "words": " ".join([article.title, article.summary, keywords, rendered.text]),
        "edges": edges, "category": article.category.lower(), "locale": article.locale,
        "html": rendered.html, "text": rendered.text,
    }


# ---------------------------------------------------------------- building generations


class ReindexBusy(RuntimeError):
    """Another reindex holds the lock."""


@dataclass
class ReindexResult:
    generation: str
    indexed: int
    unchanged: int
    removed: int
    skipped: list[str]
    seconds: float
    full: bool

    def summary(self) -> str:
        mode = "full" if self.full else "incremental"
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        return (
            f"{self.generation}: {self.indexed} indexed, {self.unchanged} unchanged, "
            f"{self.removed} removed{skipped} ({mode}, {self.seconds:.1f}s)"
        )


def current_generation(index_dir: Path) -> str | None:
    try:
        name = (index_dir / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    return name if (index_dir / name / "catalog.json").is_file() else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _next_name(index_dir: Path) -> str:
    numbers = [int(m.group(1)) for p in index_dir.glob("gen-*") if (m := re.fullmatch(r"gen-(\d+)(\.tmp)?", p.name))]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def reindex(
    kb_dir: Path,
    index_dir: Path,
    *,
    full: bool = False,
    progress: Callable[[int, int], None] | None = None,
    articles: list[Article] | None = None,
) -> ReindexResult:
    """Build a new generation from kb_dir and make it current. Raises ReindexBusy."""
    started = time.perf_counter()
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(index_dir / "reindex.lock"))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise ReindexBusy("another reindex is running (index is busy); try again when it ends") from None
    try:
        if articles is None:
            kb = load_kb(kb_dir)
            skipped = [str(p) for p in kb.problems if p.severity == "error"]
            articles = kb.public()
        else:
            skipped = []
        return _build(index_dir, _unique(articles, skipped), full, progress, skipped, started)
    finally:
        lock.release()


def _unique(articles: Iterable[Article], skipped: list[str]) -> list[Article]:
    seen: set[str] = set()
    out = []
    for article in articles:
        if article.draft:
            continue
        if article.slug in seen:
            skipped.append(f"{article.path}: duplicate slug {article.slug!r} (not indexed)")
            continue
        seen.add(article.slug)
        out.append(article)
    return out


def _build(index_dir: Path, articles: list[Article], full: bool,
           progress: Callable[[int, int], None] | None, skipped: list[str],
           started: float) -> ReindexResult:
    for stale in index_dir.glob("gen-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    previous = current_generation(index_dir)
    old_catalog = _read_catalog(index_dir / previous) if previous and not full else None
    name = _next_name(index_dir)
    work = index_dir / f"{name}.tmp"
    if old_catalog is not None:
        shutil.copytree(index_dir / previous, work)  # incremental: start from the live copy
        ix = whoosh_index.open_dir(str(work))
    else:
        work.mkdir()
        ix = whoosh_index.create_in(str(work), make_schema())
        old_catalog = {}
    by_slug = {a.slug: a for a in articles}
    changed = [a for a in articles if old_catalog.get(a.slug, {}).get("hash") != a.content_hash]
    removed = [slug for slug in old_catalog if slug not in by_slug]
    writer = ix.writer(procs=1, limitmb=256)
    try:
        for slug in removed:
            writer.delete_by_term("slug", slug)
        for done, article in enumerate(changed, start=1):
            writer.update_document(**_document(article))
            if progress:
                progress(done, len(changed))
        writer.commit(optimize=len(changed) > 0 and not old_catalog)
    except BaseException:
        writer.cancel()
        raise
    catalog = {a.slug: a.meta() for a in articles}
    _write_atomic(work / "catalog.json", json.dumps(catalog, ensure_ascii=False))
    ix.close()
    _fsync_tree(work)
    os.rename(work, index_dir / name)
    _write_atomic(index_dir / "CURRENT", name + "\n")
    _prune(index_dir, keep={name, previous})
    return ReindexResult(
        generation=name, indexed=len(changed), unchanged=len(articles) - len(changed),
        removed=len(removed), skipped=skipped, seconds=time.perf_counter() - started,
        full=not previous or full,
    )


def _fsync_tree(path: Path) -> None:
    for child in path.iterdir():
        with open(child, "rb") as fh:
            os.fsync(fh.fileno())
    _fsync_dir(path)


def _prune(index_dir: Path, keep: set[str | None]) -> None:
    # The previous generation stays: a server may still be answering from it for a moment.
    for gen in index_dir.glob("gen-*"):
        if gen.name not in keep and not gen.name.endswith(".tmp"):
            shutil.rmtree(gen, ignore_errors=True)


def _read_catalog(gen_dir: Path) -> dict[str, dict[str, Any]]:
    with open(gen_dir / "catalog.json", encoding="utf-8") as fh:
        data: dict[str, dict[str, Any]] = json.load(fh)
    return data


# ---------------------------------------------------------------- querying


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
            words = tuple(w.strip().lower() for w in line.split(",") if w.strip())
            if len(words) > 1:
                groups.append(words)
        return cls(tuple(groups))

    def expand(self, text: str) -> list[str]:
        padded = f" {' '.join(_WORD.findall(text.lower()))} "
        extra: list[str] = []
        for group in self.groups:
            if any(f" {phrase} " in padded for phrase in group):
                extra.extend(p for p in group if f" {p} " not in padded)
        return extra


def query_words(text: str, max_words: int = 12) -> list[str]:
    words = [w.lower() for w in _WORD.findall(text)]
    return words[:max_words]


@dataclass
class Hit:
    slug: str
    title: str
    url: str
    snippet: str
    category: str
    summary: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug, "title": self.title, "url": self.url, "snippet": self.snippet,
            "category": self.category, "summary": self.summary, "score": round(self.score, 4),
        }


@dataclass
class SearchResult:
    query: str
    total: int
    hits: list[Hit]
    terms: list[str] = field(default_factory=list)


def _stem(word: str) -> str:
    tokens = [t.text for t in StemmingAnalyzer(stoplist=None)(word)]
    return tokens[0] if tokens else word


class _Or(Q.Or):
    # Whoosh picks a preloading matcher for small indexes that costs more than it saves here.
    matcher_type = Q.Or.DEFAULT_MATCHER


class Generation:
    """One opened index generation: a searcher and the catalog. Used from one thread at a time."""

    def __init__(self, index_dir: Path, name: str):
        self.name = name
        self.path = index_dir / name
        self.index = whoosh_index.open_dir(str(self.path))
        self.searcher = self.index.searcher(weighting=scoring.BM25F(B=0.75, K1=1.2))
        self.catalog = _read_catalog(self.path)
        self.aliases = {alias: slug for slug, meta in self.catalog.items() for alias in meta["aliases"]}
        self.locales = {meta["locale"] for meta in self.catalog.values()}
        self._corrector = self.searcher.corrector("words")
        self._word_cache: dict[str, list[str]] = {}

    def close(self) -> None:
        self.searcher.close()
        self.index.close()

    def known(self, word: str) -> bool:
        return self.searcher.doc_frequency("words", word) > 0

    def corrections(self, word: str) -> list[str]:
        if word not in self._word_cache:
            maxdist = 1 if len(word) <= 5 else 2
            suggestions = self._corrector.suggest(word, limit=3, maxdist=maxdist, prefix=1)
            if len(self._word_cache) > 5000:
                self._word_cache.clear()
            self._word_cache[word] = [s for s in suggestions if s != word]
        return self._word_cache[word]

    def build_query(self, text: str, synonyms: Synonyms, prefix_last: bool = True) -> tuple[Q.Query | None, list[str]]:
        """Words become Term queries; nothing the visitor types is parsed as query syntax."""
        words = query_words(text)
        if not words:
            return None, []
        content = [w for w in words if w not in STOP_WORDS] or words
        last_is_partial = prefix_last and not text[-1:].isspace() and words[-1] == content[-1]
        clauses: list[Q.Query] = []
        highlight: list[str] = []
        for position, word in enumerate(content):
            partial = last_is_partial and position == len(content) - 1
            clause, terms = self._word_clause(word, partial)
            if clause is not None:
                clauses.append(clause)
                highlight.extend(terms)
        for extra in synonyms.expand(text):
            parts = [self._stemmed_clause(w, boost=0.8) for w in query_words(extra)]
            clauses.append(Q.And(parts) if len(parts) > 1 else parts[0])
            highlight.extend(query_words(extra))
        if not clauses:
            return None, []
        return _Or(clauses, scale=0.9), highlight

    def _stemmed_clause(self, word: str, boost: float = 1.0) -> Q.Query:
        stem = _stem(word)
        fields = ("title", "summary", "headings", "body", "keywords")
        return _Or([Q.Term(f, stem) for f in fields], boost=boost)

    def _word_clause(self, word: str, partial: bool) -> tuple[Q.Query | None, list[str]]:
        options: list[Q.Query] = []
        terms = [word]
        exists = self.known(word)
        options.append(self._stemmed_clause(word))
        if partial and len(word) >= 2:
            options.append(Q.Term("edges", word[:15], boost=0.9))
        if not exists and len(word) >= 4 and not word.isdigit():
            fixes = self.corrections(word)
            for fixed in fixes:
                options.append(self._stemmed_clause(fixed, boost=0.7))
            terms.extend(fixes)
        if not options:
            return None, terms
        return (options[0] if len(options) == 1 else _Or(options)), terms

    def search(self, text: str, limit: int, synonyms: Synonyms, locale: str | None = None) -> SearchResult:
        query, terms = self.build_query(text, synonyms)
        if query is None:
            return SearchResult(query=text, total=0, hits=[])
        # A page in a language the knowledge base lacks still gets answers, in any language.
        filter_q = Q.Term("locale", locale) if locale in self.locales else None
        results = self.searcher.search(query, limit=limit, filter=filter_q)
        hits = []
        for hit in results:
            meta = self.catalog.get(hit["slug"])
            if meta is None:
                continue
            hits.append(Hit(
                slug=meta["slug"], title=meta["title"], url=f"/kb/{meta['slug']}",
                snippet=make_snippet(hit["text"], terms, fallback=meta["summary"]),
                category=meta["category"], summary=meta["summary"], score=hit.score or 0.0,
            ))
        # Counting every match exactly costs a second pass; past one page an estimate will do.
        total = len(hits) if len(hits) < limit else max(len(hits), results.estimated_length())
        return SearchResult(query=text, total=total, hits=hits, terms=terms)

    def document(self, slug: str) -> dict[str, Any] | None:
        stored: dict[str, Any] | None = self.searcher.document(slug=slug)
        return stored


def make_snippet(text: str, terms: list[str], fallback: str = "", width: int = 220) -> str:
    """An escaped excerpt around the densest run of query words; matches wrapped in <mark>."""
    if not text:
        return escape(fallback)
    stems = sorted({_stem(t) for t in terms if len(t) > 1} | {t for t in terms if len(t) > 1},
                   key=len, reverse=True)
    alternatives = "|".join(map(re.escape, stems))
    pattern = re.compile(rf"\b(?:{alternatives})\w*", re.I) if stems else None
    starts = [m.start() for m in itertools.islice(pattern.finditer(text), 500)] if pattern else []
    begin = 0
    if starts:
        # The window that starts at the match with the most other matches within `width` chars.
        best = max(range(len(starts)), key=lambda i: sum(1 for s in starts[i:i + 12] if s - starts[i] < width))
        begin = max(0, starts[best] - 40)
        while begin > 0 and not text[begin - 1].isspace():
            begin -= 1
    end = min(len(text), begin + width)
    while end < len(text) and not text[end].isspace():
        end += 1
    window = text[begin:end]
    out: list[str] = ["… " if begin else ""]
    cursor = 0
    for match in pattern.finditer(window) if pattern else ():
        out.append(escape(window[cursor : match.start()]))
        out.append(f"<mark>{escape(match.group())}</mark>")
        cursor = match.end()
    out.append(escape(window[cursor:]))
    out.append(" …" if end < len(text) else "")
    return re.sub(r"\s+", " ", "".join(out)).strip()


class SearchService:
    """The server's view of the index: follows CURRENT and swaps generations without a gap."""

    def __init__(self, index_dir: Path, synonyms: Synonyms | None = None, check_every: float = 1.0):
        self.index_dir = index_dir
        self.synonyms = synonyms or Synonyms()
        self.check_every = check_every
        self._generation: Generation | None = None
        self._checked_at = 0.0
        self.refresh(force=True)

    @property
    def generation(self) -> Generation | None:
        self.refresh()
        return self._generation

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked_at < self.check_every:
            return
        self._checked_at = now
        name = current_generation(self.index_dir)
        if name is None or (self._generation and self._generation.name == name):
            return
        # Open the new generation completely before dropping the old one: no empty window.
        fresh = Generation(self.index_dir, name)
        old, self._generation = self._generation, fresh
        if old is not None:
            old.close()

    def close(self) -> None:
        if self._generation:
            self._generation.close()
            self._generation = None

    def search(self, text: str, limit: int = 10, locale: str | None = None) -> SearchResult:
        gen = self.generation
        if gen is None:
            return SearchResult(query=text, total=0, hits=[])
        return gen.search(text, limit, self.synonyms, locale)

    @property
    def catalog(self) -> dict[str, dict[str, Any]]:
        gen = self.generation
        return gen.catalog if gen else {}

    def resolve(self, slug: str) -> tuple[str | None, bool]:
        """Return (canonical slug, is_alias) or (None, False)."""
        gen = self.generation
        if gen is None:
            return None, False
        if slug in gen.catalog:
            return slug, False
        target = gen.aliases.get(slug)
        return (target, True) if target else (None, False)

    def article(self, slug: str) -> dict[str, Any] | None:
        gen = self.generation
        if gen is None or slug not in gen.catalog:
            return None
        stored = gen.document(slug) or {}
        return {**gen.catalog[slug], "html": stored.get("html", "")}

    def suggestions(self, page_url: str, limit: int = 5) -> list[dict[str, Any]]:
        catalog = self.catalog
        parts = urlsplit(page_url)
        candidates = {page_url, parts.path or "/", f"{parts.netloc}{parts.path}"}
        matched = [
            meta for meta in catalog.values()
            if any(fnmatchcase(c.lower(), p.lower()) for p in meta["urls"] for c in candidates)
        ]
        if len(matched) < limit:
            rest = sorted(
                (m for m in catalog.values() if m not in matched),
                key=lambda m: (not m["urls"], m["updated"] == "", m["category"], m["title"]),
            )
            matched.extend(rest[: limit - len(matched)])
        return matched[:limit]
