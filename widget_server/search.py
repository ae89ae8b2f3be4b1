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

import dataclasses
import functools
import heapq
import itertools
import json
import math
import multiprocessing
import operator
import os
import re
import shutil
import threading
import time
from array import array
from bisect import bisect_left
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import filelock
from whoosh import index as whoosh_index
from whoosh import scoring
from whoosh.analysis import NgramFilter, StandardAnalyzer, StemmingAnalyzer
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.lang.porter import stem as porter_stem
from whoosh.support.levenshtein import damerau_levenshtein

from .articles import (
    Article,
    Problem,
    Rendered,
    content_hash,
    cross_check,
    iter_markdown_files,
    load_kb,
    parse_article,
)

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


def _keywords(tags: Iterable[str], aliases: Iterable[str]) -> str:
    return " ".join([*tags, *(a.replace("/", " ").replace("-", " ") for a in aliases)])


def _document(article: Article, rendered: Rendered) -> dict[str, Any]:
    keywords = _keywords(article.tags, article.aliases)
    headings = " ".join(rendered.headings)
    edges = " ".join([article.title, article.summary, headings, keywords])
    return {
        "slug": article.slug, "title": article.title, "summary": article.summary,
        "headings": headings, "body": rendered.text, "keywords": keywords,
        "edges": edges, "category": article.category.lower(), "locale": article.locale,
        "html": rendered.html, "text": rendered.text,
    }


def _word_counts(title: str, summary: str, keywords: str, text: str) -> Counter[str]:
    """The unstemmed words of one article, as typo correction sees them."""
    return Counter(_WORD.findall(f"{title}\n{summary}\n{keywords}\n{text}".lower()))


def _prepare(article: Article) -> tuple[dict[str, Any], Counter[str]]:
    """One article's document for Whoosh's writer, its text fields already analyzed (tokens
    as lists, which the writer takes as they are), and its word counts.

    Rendering and analysis are most of a build's cost and independent per article, so large
    builds run this in worker processes while the writer only files postings.
    """
    document = _document(article, article.render())
    counts = _word_counts(article.title, article.summary, document["keywords"], document["text"])
    for name in _STEMMED_ANALYZED:
        document[name] = _stem_tokens(document[name])
    document["edges"] = [t.text for t in _EDGE(document["edges"], mode="index") if not t.stopped]
    return document, counts


# What StemmingAnalyzer(stoplist=None) does, without a Token object per word: the same token
# pattern, lowercase, the same Porter stemmer. A test holds the two to the same output.
_TOKEN = re.compile(r"[\w\*]+(?:\.?[\w\*]+)*")
_STEM_CACHE: dict[str, str] = {}
_STEMMED_ANALYZED = ("title", "summary", "headings", "body", "keywords")


def _stem_tokens(text: str) -> list[str]:
    cache = _STEM_CACHE
    out = []
    for token in _TOKEN.findall(text):
        stemmed = cache.get(token)
        if stemmed is None:
            if len(cache) > 200_000:  # a bound for pathological input; words repeat a lot
                cache.clear()
            stemmed = cache[token] = porter_stem(token.lower())
        out.append(stemmed)
    return out


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
            articles, problems = _load(kb_dir, index_dir, full)
            skipped = [str(p) for p in problems if p.severity == "error"]
        else:
            skipped = []
        return _build(index_dir, _unique(articles, skipped), full, progress, skipped, started)
    finally:
        lock.release()


def _load(kb_dir: Path, index_dir: Path, full: bool) -> tuple[list[Article], list[Problem]]:
    """The knowledge base's public articles, parsing only files that changed since the live
    generation: an unchanged file (same bytes) is taken from the catalog as it was indexed."""
    previous = None if full else current_generation(index_dir)
    if previous is None:
        kb = load_kb(kb_dir)
        return kb.public(), kb.problems
    if not Path(kb_dir).is_dir():
        raise FileNotFoundError(f"knowledge base folder not found: {kb_dir}")
    indexed = {meta["path"]: meta for meta in _read_catalog(index_dir / previous).values()}
    articles: list[Article] = []
    problems: list[Problem] = []
    for path in iter_markdown_files(kb_dir):
        raw = path.read_bytes()
        relative = path.relative_to(kb_dir)
        meta = indexed.get(relative.as_posix())
        if meta is not None and meta["hash"] == content_hash(raw):
            articles.append(_from_catalog(meta))
            continue
        article, found = parse_article(raw, relative)
        problems.extend(found)
        if article is not None and not article.draft:
            articles.append(article)
    # Unchanged bodies were link-checked when they changed; slugs and related are checked all.
    problems.extend(cross_check(articles))
    return articles, problems


def _from_catalog(meta: dict[str, Any]) -> Article:
    # The body is left out: an unchanged article is neither rendered nor indexed again.
    fields = {f.name for f in dataclasses.fields(Article)} - {"body", "body_line", "content_hash"}
    return Article(**{name: meta[name] for name in fields if name in meta},
                   content_hash=meta["hash"])


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
        _copy_generation(index_dir / previous, work)  # incremental: start from the live copy
        ix = whoosh_index.open_dir(str(work))
        vocabulary = _read_words(work)
    else:
        work.mkdir()
        ix = whoosh_index.create_in(str(work), make_schema())
        old_catalog, vocabulary = {}, Counter()
    by_slug = {a.slug: a for a in articles}
    changed = [a for a in articles if old_catalog.get(a.slug, {}).get("hash") != a.content_hash]
    removed = [slug for slug in old_catalog if slug not in by_slug]
    _forget_words(vocabulary, ix, old_catalog, [*removed, *(a.slug for a in changed)])
    # compound=False: Whoosh copies a compound segment file into memory on open (about the
    # index's size); separate files are read through the OS page cache instead.
    writer = ix.writer(procs=1, limitmb=512, compound=False)
    try:
        for slug in removed:
            writer.delete_by_term("slug", slug)
        add = writer.update_document if old_catalog else writer.add_document
        for done, (document, counts) in enumerate(_prepared(changed), start=1):
            add(**document)
            vocabulary.update(counts)
            if progress:
                progress(done, len(changed))
        writer.commit(optimize=len(changed) > 0 and not old_catalog)
    except BaseException:
        writer.cancel()
        raise
    catalog = {a.slug: a.meta() for a in articles}
    _write_atomic(work / "catalog.json", json.dumps(catalog, ensure_ascii=False))
    _write_atomic(work / WORDS_FILE, json.dumps(+vocabulary, ensure_ascii=False))
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


WORDS_FILE = "words.json"  # unstemmed word -> how often the knowledge base uses it
PREPARE_IN_PARALLEL = 200  # below this many articles, starting worker processes costs more


def _may_fork() -> bool:
    # Forking is only safe while no other thread may hold a lock.
    return threading.active_count() == 1


def _prepared(articles: list[Article]) -> Iterator[tuple[dict[str, Any], Counter[str]]]:
    """_prepare for each article, in order: in worker processes when there are many."""
    workers = min(2, os.cpu_count() or 1)
    # Workers are forked (spawn would re-run the caller's script); forking is only safe while
    # no other thread may hold a lock, so a threaded caller prepares here instead.
    if len(articles) < PREPARE_IN_PARALLEL or workers < 2 or not _may_fork():
        yield from map(_prepare, articles)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(_prepare, articles, chunksize=32)


def _copy_generation(source: Path, target: Path) -> None:
    # Whoosh never rewrites a segment file once written (a new TOC names the new set), so the
    # copy can share them by hard link: an incremental run copies no index data.
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link)
    # The catalog and word counts are replaced with new files, never written in place.


def _read_words(gen_dir: Path) -> Counter[str]:
    try:
        with open(gen_dir / WORDS_FILE, encoding="utf-8") as fh:
            return Counter(json.load(fh))
    except FileNotFoundError:
        return Counter()


def _forget_words(vocabulary: Counter[str], ix: Any, catalog: dict[str, dict[str, Any]],
                  slugs: list[str]) -> None:
    """Subtract the words of articles about to be replaced or removed."""
    stale = [slug for slug in slugs if slug in catalog]
    if not stale or not vocabulary:
        return
    with ix.searcher() as searcher:
        for slug in stale:
            meta = catalog[slug]
            text = (searcher.document(slug=slug) or {}).get("text", "")
            vocabulary.subtract(_word_counts(meta["title"], meta["summary"],
                                             _keywords(meta["tags"], meta["aliases"]), text))


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
    """The query's words, lower case; a name written with dots ("duck.ai", "v2.1") stays one
    word, as the index keeps it."""
    return [w.lower() for w in _QUERY_WORD.findall(text)][:max_words]


_QUERY_WORD = re.compile(r"\w+(?:\.\w+)*", re.UNICODE)
# A dotted name counts mostly as itself; its parts add a little, for text that writes them
# apart (or an index built before the name appeared).
DOTTED_PARTS_WEIGHT = 0.2


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


@dataclass(frozen=True)
class Answer:
    """The best passage of the best article, quoted exactly: the sanitized HTML of one section."""

    slug: str
    title: str
    heading: str  # the section's heading; "" for the text before the first heading
    anchor: str  # the heading's id in the article's HTML; "" for the opening section
    html: str
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "title": self.title, "heading": self.heading,
                "anchor": self.anchor, "html": self.html, "confidence": round(self.confidence, 3)}


@dataclass
class SearchResult:
    query: str
    total: int
    hits: list[Hit]
    terms: list[str] = field(default_factory=list)
    # How sure the ranking is that the first hit answers the query (0..1, calibrated per
    # knowledge base); the answer is only given when it clears the generation's threshold.
    confidence: float = 0.0
    answer: Answer | None = None
    # The hits as the API's JSON array, encoded once per cached result: on a search box that
    # updates on every keystroke most answers come from the cache, and encoding them again
    # was a sixth of the API's time per request (profiled under load).
    hits_json: bytes = field(default=b"", repr=False, compare=False)


def encode_json(value: Any) -> bytes:
    """JSON exactly as the API sends it (compact, UTF-8, no NaN)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


_STEMMER = StemmingAnalyzer(stoplist=None)


@functools.lru_cache(maxsize=20000)
def _stem(word: str) -> str:
    tokens = [t.text for t in _STEMMER(word)]
    return tokens[0] if tokens else word


# One word of the query: alternative (field, term, weight) triples whose scores add up.
Clause = list[tuple[str, str, float]]
STEMMED_FIELDS = ("title", "summary", "headings", "body", "keywords")
RESULT_CACHE_SIZE = 1024  # ~15 MB of hits with snippets
IMPACT_CACHE_BYTES = 24_000_000  # a few thousand terms' scores
# A word scores at most this many documents (its best ones): the few-ms budget of a query
# holds at 50k articles, and a document past a common word's first 1000 would gain only that
# word's smallest scores. Counting matches (`total`) still uses every posting.
CHAMPIONS = 1000
ANY_TEXT = "*"  # the stemmed text fields together, as BM25F sums them


class _Term:
    """One term's scores, and its champion list: the CHAMPIONS best documents, best first."""

    __slots__ = ("best_ids", "best_scores", "docs", "size")

    def __init__(self, scores: dict[int, float]):
        # Flat arrays, not Python tuples: 4 bytes per matching docnum (for counting and
        # filters) and 12 per champion, about a tenth of (int, float) tuples in a list.
        self.docs = array("i", scores)
        if len(scores) > CHAMPIONS:
            best = heapq.nlargest(CHAMPIONS, scores.items(), key=operator.itemgetter(1))
        else:
            best = sorted(scores.items(), key=operator.itemgetter(1), reverse=True)
        self.best_ids = array("i", [d for d, _ in best])
        self.best_scores = array("d", [score for _, score in best])
        self.size = 4 * len(self.docs) + 12 * len(best) + 300  # bytes, with object overhead


class Impacts:
    """BM25F scores per (field, term), read lazily from Whoosh's postings and kept in memory.

    Whoosh scores a query by walking a tree of Python matchers posting by posting, which costs
    tens to hundreds of milliseconds at 10k articles for common words. The same BM25F score
    for one term in one document never changes within a generation, so each posting list is
    turned once into {docnum: score}; a query then adds a few dicts and takes the top hits.
    """

    def __init__(self, searcher: Any, B: float = 0.75, K1: float = 1.2):  # noqa: N803
        self.reader = searcher.reader()
        self.B, self.K1 = B, K1
        self.doc_count = self.reader.doc_count_all()
        self._leaves = [(leaf, offset, _deleted(leaf)) for leaf, offset in self.reader.leaf_readers()]
        self._norms: dict[str, list[float]] = {}
        self._cache: OrderedDict[tuple[str, str], dict[int, float]] = OrderedDict()
        self._cached_postings = 0

    def docs(self, field: str, term: str) -> array[int]:
        """Every document with the term."""
        return self._entry(field, term).docs

    def best(self, field: str, term: str) -> Iterator[tuple[int, float]]:
        """The term's highest-scoring documents, best first, at most CHAMPIONS of them."""
        entry = self._entry(field, term)
        return zip(entry.best_ids, entry.best_scores, strict=True)

    def _entry(self, field: str, term: str) -> _Term:
        key = (field, term)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        entry = _Term(self._combined(term) if field == ANY_TEXT else self._read(field, term))
        self._cache[key] = entry
        self._cached_postings += entry.size
        while self._cached_postings > IMPACT_CACHE_BYTES and len(self._cache) > 1:
            _, dropped = self._cache.popitem(last=False)
            self._cached_postings -= dropped.size
        return entry

    def _combined(self, stem: str) -> dict[int, float]:
        # BM25F adds the per-field scores of a term: do it once per stem, not once per query.
        total: dict[int, float] = {}
        for field_name in STEMMED_FIELDS:
            for docnum, score in self._read(field_name, stem).items():
                total[docnum] = total.get(docnum, 0.0) + score
        return total

    def recent(self, count: int = 256) -> list[tuple[str, str]]:
        """The most recently used (field, term) pairs, most recent first."""
        return list(itertools.islice(reversed(self._cache), count))

    def warm(self, keys: Iterable[tuple[str, str]]) -> None:
        for field_name in STEMMED_FIELDS:
            self._norm(field_name)
        for key in keys:
            self._entry(*key)

    def _norm(self, field: str) -> list[float]:
        # K1 * ((1 - B) + B * length / average length), per document, as BM25F has it.
        norms = self._norms.get(field)
        if norms is None:
            lengths = [0] * self.doc_count
            for leaf, offset, _ in self._leaves:
                for docnum in range(leaf.doc_count_all()):
                    lengths[offset + docnum] = leaf.doc_field_length(docnum, field, 0) or 0
            average = (self.reader.field_length(field) / max(self.doc_count, 1)) or 1.0
            k1, b = self.K1, self.B
            norms = self._norms[field] = [k1 * ((1 - b) + b * n / average) for n in lengths]
        return norms

    def _read(self, field: str, term: str) -> dict[int, float]:
        if (field, term) not in self.reader:
            return {}
        idf = math.log(self.doc_count / (self.reader.doc_frequency(field, term) + 1)) + 1
        out: dict[int, float] = {}
        if not self.reader.schema[field].scorable:
            for ids, weights in self._blocks(field, term):
                out.update(zip(ids, weights, strict=True))
            return out
        norms, k1 = self._norm(field), self.K1 + 1
        for ids, weights in self._blocks(field, term):
            out.update(zip(ids, [idf * w * k1 / (w + norms[d]) for d, w in zip(ids, weights, strict=True)],
                           strict=True))
        return out

    def _blocks(self, field: str, term: str) -> Iterator[tuple[list[int], list[float]]]:
        """(docnums, weights) a block at a time, deleted documents left out."""
        for leaf, offset, deleted in self._leaves:
            if (field, term) not in leaf:
                continue
            for ids, weights in _leaf_blocks(leaf.postings(field, term)):
                pairs = [(offset + d, w) for d, w in zip(ids, weights, strict=True) if d not in deleted]
                yield [d for d, _ in pairs], [w for _, w in pairs]


def _deleted(leaf: Any) -> frozenset[int]:
    if not leaf.has_deletions():
        return frozenset()
    return frozenset(d for d in range(leaf.doc_count_all()) if leaf.is_deleted(d))


def _leaf_blocks(matcher: Any) -> Iterator[tuple[Any, Any]]:
    # Whoosh's on-disk matcher decodes a whole block of ids and weights at once; reading those
    # arrays is ~20x faster than stepping posting by posting. Other matchers take the slow road.
    if hasattr(matcher, "_read_ids") and hasattr(matcher, "_next_block"):
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_weights()
            yield matcher._ids, matcher._weights
            matcher._next_block()
        return
    ids, weights = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    yield ids, weights


class Vocabulary:
    """The knowledge base's unstemmed words and how often each is used; corrects typos.

    A correction is a word within 1 edit (2 for words longer than 5 letters; a swap of two
    neighbours counts as one) that starts with the same letter, the most used first. Candidates
    come from a symmetric-delete index: a word and every form of it with one letter deleted,
    kept as sorted hashes in two flat arrays (a few MB at 50k words), so a lookup is a few
    dozen binary searches instead of a scan of the vocabulary.
    """

    def __init__(self, counts: dict[str, int]):
        self.counts = counts
        self._words: list[str] = []
        self._keys = array("q")
        self._ids = array("i")

    def __contains__(self, word: str) -> bool:
        return word in self.counts

    def corrections(self, word: str, limit: int = 3) -> list[str]:
        if not self._words and self.counts:
            self._index()
        maxdist = 1 if len(word) <= 5 else 2
        found = {
            candidate for key in _deletes(word, maxdist) for candidate in self._lookup(hash(key))
            if candidate != word and candidate[:1] == word[:1]
            and damerau_levenshtein(word, candidate, maxdist) <= maxdist
        }
        return sorted(found, key=lambda w: (-self.counts[w], w))[:limit]

    def _lookup(self, key: int) -> Iterator[str]:
        at = bisect_left(self._keys, key)
        while at < len(self._keys) and self._keys[at] == key:
            yield self._words[self._ids[at]]
            at += 1

    def _index(self) -> None:
        self._words = [w for w in self.counts if len(w) > 1 and not w.isdigit()]
        pairs = sorted((hash(key), i) for i, w in enumerate(self._words) for key in _deletes(w, 1))
        self._keys = array("q", (k for k, _ in pairs))
        self._ids = array("i", (i for _, i in pairs))


def _deletes(word: str, depth: int) -> set[str]:
    """The word and every string made from it by deleting up to `depth` letters."""
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))} - out
        out |= frontier
    return out


class Generation:
    """One opened index generation: a searcher and the catalog. Used from one thread at a time."""

    def __init__(self, index_dir: Path, name: str):
        self.name = name
        self.path = index_dir / name
        self.index = whoosh_index.open_dir(str(self.path))
        self.searcher = self.index.searcher(weighting=scoring.BM25F(B=0.75, K1=1.2))
        self.impacts = Impacts(self.searcher)
        self.catalog = _read_catalog(self.path)
        self.aliases = {alias: slug for slug, meta in self.catalog.items() for alias in meta["aliases"]}
        self.vocabulary = Vocabulary(_read_words(self.path))
        self._word_cache: dict[str, list[str]] = {}
        self._results: OrderedDict[tuple[str, int, str | None], SearchResult] = OrderedDict()

    def close(self) -> None:
        self.searcher.close()
        self.index.close()

    def warm(self, keys: Iterable[tuple[str, str]]) -> None:
        """Load what the first queries will need: field lengths, the terms in recent use and the
        typo index."""
        self.impacts.warm(keys)
        self.vocabulary.corrections("warm")

    def known(self, word: str) -> bool:
        return word in self.vocabulary

    def corrections(self, word: str) -> list[str]:
        if word not in self._word_cache:
            if len(self._word_cache) > 5000:
                self._word_cache.clear()
            self._word_cache[word] = self.vocabulary.corrections(word)
        return self._word_cache[word]

    def build_query(self, text: str, synonyms: Synonyms,
                    prefix_last: bool = True) -> tuple[list[Clause], list[str]]:
        """Words become (field, term) lookups; nothing the visitor types is parsed as syntax."""
        words = query_words(text)
        if not words:
            return [], []
        content = [w for w in words if w not in STOP_WORDS] or words
        last_is_partial = prefix_last and not text[-1:].isspace() and words[-1] == content[-1]
        clauses: list[Clause] = []
        highlight: list[str] = []
        for position, word in enumerate(content):
            partial = last_is_partial and position == len(content) - 1
            clause, terms = self._word_clause(word, partial)
            clauses.append(clause)
            highlight.extend(terms)
        for extra in synonyms.expand(text):
            # A synonym phrase counts as one more word of the query, at a slight discount.
            clauses.append([t for w in query_words(extra) for t in _stemmed(w, 0.8)])
            highlight.extend(query_words(extra))
        return clauses, highlight

    def _word_clause(self, word: str, partial: bool) -> tuple[Clause, list[str]]:
        clause, terms = self._word_options(word, partial)
        # Corrections often share a stem ("activate", "activation"): look each term up once.
        weights: dict[tuple[str, str], float] = {}
        for field_name, term, weight in clause:
            weights[field_name, term] = weights.get((field_name, term), 0.0) + weight
        return [(f, t, w) for (f, t), w in weights.items()], terms

    def _word_options(self, word: str, partial: bool) -> tuple[Clause, list[str]]:
        if "." in word:
            parts = word.split(".")
            options = _stemmed(word, 1.0) + [
                t for part in parts for t in _stemmed(part, DOTTED_PARTS_WEIGHT / len(parts))]
            if partial:
                options.append(("edges", parts[-1][:15], DOTTED_PARTS_WEIGHT))
            return options, [word, *parts]
        options = _stemmed(word, 1.0)
        terms = [word]
        if partial and len(word) >= 2:
            options.append(("edges", word[:15], 0.9))
        if len(word) >= 4 and not word.isdigit() and not self.known(word):
            fixes = self.corrections(word)
            for fixed in fixes:
                options.extend(_stemmed(fixed, 0.7))
            terms.extend(fixes)
        return options, terms

    def _score(self, clauses: list[Clause]) -> tuple[dict[int, float], int]:
        """Scores of the candidate documents, and how many documents match at all."""
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
        return totals, len(matching)

    def search(self, text: str, limit: int, synonyms: Synonyms, locale: str | None = None) -> SearchResult:
        key = (" ".join(query_words(text)) + (" " if text[-1:].isspace() else ""), limit, locale)
        cached = self._results.get(key)
        if cached is None:
            cached = self._search(text, limit, synonyms, locale)
            self._results[key] = cached
            if len(self._results) > RESULT_CACHE_SIZE:
                self._results.popitem(last=False)
        else:
            self._results.move_to_end(key)
        return dataclasses.replace(cached, query=text)

    def _search(self, text: str, limit: int, synonyms: Synonyms, locale: str | None) -> SearchResult:
        clauses, terms = self.build_query(text, synonyms)
        totals, total = self._score(clauses) if clauses else ({}, 0)
        allowed = set(self.impacts.docs("locale", locale)) if locale else None
        if allowed:  # a knowledge base without that language answers in the languages it has
            totals = {d: s for d, s in totals.items() if d in allowed}
            total = len(totals)
        top = heapq.nlargest(limit, totals.items(), key=operator.itemgetter(1))
        hits = [hit for docnum, score in top if (hit := self._hit(docnum, score, terms))]
        return SearchResult(query=text, total=total, hits=hits, terms=terms,
                            hits_json=encode_json([h.as_dict() for h in hits]))

    def _hit(self, docnum: int, score: float, terms: list[str]) -> Hit | None:
        stored = self.searcher.stored_fields(docnum)
        meta = self.catalog.get(stored.get("slug", ""))
        if meta is None:
            return None
        return Hit(
            slug=meta["slug"], title=meta["title"], url=f"/kb/{meta['slug']}",
            snippet=make_snippet(stored.get("text", ""), terms, fallback=meta["summary"]),
            category=meta["category"], summary=meta["summary"], score=score,
        )

    def document(self, slug: str) -> dict[str, Any] | None:
        stored: dict[str, Any] | None = self.searcher.document(slug=slug)
        return stored


COORD_BONUS = 0.1


def _stemmed(word: str, weight: float) -> Clause:
    return [(ANY_TEXT, _stem(word), weight)]

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


# One side thread opens new generations; searches never wait for it.
_OPENER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deskbell-index-open")


def _open_warm(index_dir: Path, name: str, recent: list[tuple[str, str]]) -> Generation:
    fresh = Generation(index_dir, name)
    fresh.warm(recent)
    return fresh


class SearchService:
    """The server's view of the index: follows CURRENT and swaps generations without a gap."""

    def __init__(self, index_dir: Path, synonyms: Synonyms | None = None, check_every: float = 1.0):
        self.index_dir = index_dir
        self.synonyms = synonyms or Synonyms()
        self.check_every = check_every
        self._generation: Generation | None = None
        self._opening: tuple[str, Future[Generation]] | None = None
        self._checked_at = 0.0
        self.refresh(force=True)

    @property
    def generation(self) -> Generation | None:
        self.refresh()
        return self._generation

    def refresh(self, force: bool = False) -> None:
        """Follow CURRENT. A new generation is opened and warmed on a side thread while the old
        one keeps answering, so no visitor's query pays for opening it; `force` (and
        check_every=0) open it right here instead."""
        self._adopt_opened()
        now = time.monotonic()
        if not force and now - self._checked_at < self.check_every:
            return
        self._checked_at = now
        name = current_generation(self.index_dir)
        if name is None or (self._generation and self._generation.name == name):
            return
        if force or self.check_every <= 0 or self._generation is None:
            self._swap(_open_warm(self.index_dir, name, []))
        elif self._opening is None or self._opening[0] != name:
            # The terms visitors used lately are read in this thread: the cache is not shared.
            recent = self._generation.impacts.recent()
            self._opening = (name, _OPENER.submit(_open_warm, self.index_dir, name, recent))

    def _adopt_opened(self) -> None:
        if self._opening is None or not self._opening[1].done():
            return
        _, future = self._opening
        self._opening = None
        try:
            fresh = future.result()
        except Exception:  # a generation pruned or broken meanwhile: the next check retries
            self._checked_at = 0.0
            return
        if self._generation is None or fresh.name != self._generation.name:
            self._swap(fresh)
        else:
            fresh.close()

    def _swap(self, fresh: Generation) -> None:
        # The new generation is complete before the old one is dropped: no empty window.
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
            return SearchResult(query=text, total=0, hits=[], hits_json=b"[]")
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
