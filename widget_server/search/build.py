"""Building an index generation aside and swapping it in whole.

A reindex takes the lock, writes `gen-N.tmp` (from scratch, or incrementally from hard links
to the live generation), fsyncs it, renames it to `gen-N`, then points CURRENT at it. A crash
anywhere before the last step leaves the old generation serving. Old generations are pruned,
keeping the one a server may still be answering from.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import multiprocessing
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock
from whoosh import index as whoosh_index

from ..articles import (
    Article,
    LocaleOptions,
    Problem,
    content_hash,
    cross_check,
    iter_markdown_files,
    load_kb,
    parse_article,
)
from ..durable import fsync_tree, write_atomic
from .calibration import FILE as CALIBRATION_FILE
from .embedding import Encoder, load_model
from .enrich import BEFORE_SWAP, enrich
from .layout import (
    ANALYSIS_FILE,
    ANALYSIS_VERSION,
    CATALOG_FILE,
    CURRENT_FILE,
    LOCK_FILE,
    WORDS_FILE,
    current_generation,
    next_name,
    read_analysis,
    read_catalog,
    read_locale_words,
)
from .schema import analysis_of, keywords, make_schema, prepare, word_counts
from .vectors import ARTICLES_FILE, META_FILE, SECTIONS_FILE

VECTOR_FILES = (META_FILE, ARTICLES_FILE, SECTIONS_FILE)

PREPARE_IN_PARALLEL = 200  # below this many articles, starting worker processes costs more


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
    encoded: int = 0  # articles whose vectors were computed; the others' were reused
    semantic_note: str = ""  # "" when the generation ranks by meaning; otherwise why not
    threshold: float | None = None  # the calibrated answer threshold of its ranking

    def summary(self) -> str:
        mode = "full" if self.full else "incremental"
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        encoded = "" if self.semantic_note else f", {self.encoded} encoded"
        threshold = "" if self.threshold is None else f"; answer threshold {self.threshold:.2f}"
        line = (
            f"{self.generation}: {self.indexed} indexed, {self.unchanged} unchanged, "
            f"{self.removed} removed{skipped}{encoded} ({mode}, {self.seconds:.1f}s){threshold}"
        )
        return f"{line}\n{self.semantic_note}" if self.semantic_note else line


def reindex(
    kb_dir: Path,
    index_dir: Path,
    *,
    full: bool = False,
    progress: Callable[[int, int], None] | None = None,
    articles: list[Article] | None = None,
    semantic: bool = True,
    vector_progress: Callable[[int, int], None] | None = None,
    locales: LocaleOptions | None = None,
    per_locale: bool = True,
) -> ReindexResult:
    """Build a new generation from kb_dir and make it current, then give it vectors (unless
    `semantic` is off) and its answer threshold. Raises ReindexBusy.

    `per_locale=False` analyzes every article as English, as Deskbell did before languages
    (the search-quality benchmark's baseline)."""
    started = time.perf_counter()
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(index_dir / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise ReindexBusy("another reindex is running (index is busy); try again when it ends") from None
    try:
        full = full or _analysis_changed(index_dir, per_locale)
        if articles is None:
            articles, problems = _load(kb_dir, index_dir, full, locales)
            skipped = [str(p) for p in problems if p.severity == "error"]
        else:
            skipped = []
        encoder, note = load_model(semantic, threads=os.cpu_count() or 1)
        result = _build(index_dir, _unique(articles, skipped), full, progress, skipped, started,
                        encoder, vector_progress, per_locale)
        return dataclasses.replace(result, semantic_note=note or result.semantic_note)
    finally:
        lock.release()


def _analysis(per_locale: bool) -> dict[str, Any]:
    return {"version": ANALYSIS_VERSION if per_locale else 1, "per_locale": per_locale}


def _analysis_changed(index_dir: Path, per_locale: bool) -> bool:
    """Whether the live generation's words were analyzed otherwise (an index built by an
    earlier Deskbell): then nothing of it can be reused, and the build starts afresh."""
    previous = current_generation(index_dir)
    return previous is not None and read_analysis(index_dir / previous) != _analysis(per_locale)


def _load(kb_dir: Path, index_dir: Path, full: bool, locales: LocaleOptions | None = None
          ) -> tuple[list[Article], list[Problem]]:
    """The knowledge base's public articles, parsing only files that changed since the live
    generation: an unchanged file (same bytes) is taken from the catalog as it was indexed."""
    previous = None if full else current_generation(index_dir)
    if previous is None:
        kb = load_kb(kb_dir, locales)
        return kb.public(), kb.problems
    if not Path(kb_dir).is_dir():
        raise FileNotFoundError(f"knowledge base folder not found: {kb_dir}")
    indexed = {meta["path"]: meta for meta in read_catalog(index_dir / previous).values()}
    articles: list[Article] = []
    problems: list[Problem] = []
    for path in iter_markdown_files(kb_dir):
        raw = path.read_bytes()
        relative = path.relative_to(kb_dir)
        meta = indexed.get(relative.as_posix())
        if meta is not None and meta["hash"] == content_hash(raw):
            articles.append(_from_catalog(meta))
            continue
        article, found = parse_article(raw, relative, locales)
        problems.extend(found)
        if article is not None and not article.draft and not article.internal:
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
        if article.draft or article.internal:
            continue
        if article.slug in seen:
            skipped.append(f"{article.path}: duplicate slug {article.slug!r} (not indexed)")
            continue
        seen.add(article.slug)
        out.append(article)
    return out


def _build(index_dir: Path, articles: list[Article], full: bool,
           progress: Callable[[int, int], None] | None, skipped: list[str],
           started: float, encoder: Encoder | None = None,
           vector_progress: Callable[[int, int], None] | None = None,
           per_locale: bool = True) -> ReindexResult:
    for stale in index_dir.glob("gen-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    previous = current_generation(index_dir)
    old_catalog = read_catalog(index_dir / previous) if previous and not full else None
    name = next_name(index_dir)
    work = index_dir / f"{name}.tmp"
    if old_catalog is not None and previous is not None:
        _copy_generation(index_dir / previous, work)  # incremental: start from the live copy
        ix = whoosh_index.open_dir(str(work))
        vocabulary = read_locale_words(work)
    else:
        work.mkdir()
        ix = whoosh_index.create_in(str(work), make_schema())
        old_catalog, vocabulary = {}, {}
    by_slug = {a.slug: a for a in articles}
    changed = [a for a in articles if old_catalog.get(a.slug, {}).get("hash") != a.content_hash]
    removed = [slug for slug in old_catalog if slug not in by_slug]
    _forget_words(vocabulary, ix, old_catalog, [*removed, *(a.slug for a in changed)], per_locale)
    # compound=False: Whoosh copies a compound segment file into memory on open (about the
    # index's size); separate files are read through the OS page cache instead.
    writer = ix.writer(procs=1, limitmb=512, compound=False)
    try:
        for slug in removed:
            writer.delete_by_term("slug", slug)
        add = writer.update_document if old_catalog else writer.add_document
        for done, (document, counts) in enumerate(_prepared(changed, per_locale), start=1):
            add(**document)
            vocabulary.setdefault(_words_key(document["locale"], per_locale), Counter()).update(counts)
            if progress:
                progress(done, len(changed))
        writer.commit(optimize=len(changed) > 0 and not old_catalog)
    except BaseException:
        writer.cancel()
        raise
    catalog = {a.slug: a.meta() for a in articles}
    write_atomic(work / CATALOG_FILE, json.dumps(catalog, ensure_ascii=False))
    words: dict[str, Any] = {locale: +counts for locale, counts in sorted(vocabulary.items())
                             if +counts}
    if not per_locale:  # one map of all words, as before languages
        words = dict(words.get("", {}))
    write_atomic(work / WORDS_FILE, json.dumps(words, ensure_ascii=False))
    write_atomic(work / ANALYSIS_FILE, json.dumps(_analysis(per_locale)))
    ix.close()
    for copied in (*VECTOR_FILES, CALIBRATION_FILE):  # linked from the live copy: rebuilt below
        (work / copied).unlink(missing_ok=True)
    reuse = previous if previous and not full else None
    enriched = None
    if encoder is None or len(changed) <= BEFORE_SWAP:
        enriched = enrich(index_dir, work.name, reuse, encoder, vector_progress,
                          changed=len(changed) + len(removed) if reuse else None)
    fsync_tree(work)
    os.rename(work, index_dir / name)
    write_atomic(index_dir / CURRENT_FILE, name + "\n")
    if enriched is None:  # many articles to encode: the words went live first
        enriched = enrich(index_dir, name, reuse, encoder, vector_progress,
                          changed=len(changed) + len(removed) if reuse else None)
    _prune(index_dir, keep={name, previous})
    threshold = enriched.thresholds.for_ranker(not enriched.note)
    return ReindexResult(
        generation=name, indexed=len(changed), unchanged=len(articles) - len(changed),
        removed=len(removed), skipped=skipped, seconds=time.perf_counter() - started,
        full=not previous or full, encoded=enriched.encoded, semantic_note=enriched.note,
        threshold=threshold,
    )


def _may_fork() -> bool:
    # Forking is only safe while no other thread may hold a lock.
    return threading.active_count() == 1


def _prepared(articles: list[Article],
              per_locale: bool = True) -> Iterator[tuple[dict[str, Any], Counter[str]]]:
    """`prepare` for each article, in order: in worker processes when there are many."""
    workers = min(2, os.cpu_count() or 1)
    prepare_one = functools.partial(prepare, per_locale=per_locale)
    # Workers are forked (spawn would re-run the caller's script); forking is only safe while
    # no other thread may hold a lock, so a threaded caller prepares here instead.
    if len(articles) < PREPARE_IN_PARALLEL or workers < 2 or not _may_fork():
        yield from map(prepare_one, articles)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(prepare_one, articles, chunksize=32)


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


def _words_key(locale: str, per_locale: bool) -> str:
    # Typo correction learns each locale's words apart; before languages, all in one.
    return locale if per_locale else ""


def _forget_words(vocabulary: dict[str, Counter[str]], ix: Any,
                  catalog: dict[str, dict[str, Any]], slugs: list[str], per_locale: bool) -> None:
    """Subtract the words of articles about to be replaced or removed, each from its locale's."""
    stale = [slug for slug in slugs if slug in catalog]
    if not stale or not vocabulary:
        return
    with ix.searcher() as searcher:
        for slug in stale:
            meta = catalog[slug]
            text = (searcher.document(slug=slug) or {}).get("text", "")
            locale = meta.get("locale") or "en"
            vocabulary.setdefault(_words_key(locale, per_locale), Counter()).subtract(word_counts(
                meta["title"], meta["summary"], keywords(meta["tags"], meta["aliases"]), text,
                analysis_of(locale, per_locale)))


def _prune(index_dir: Path, keep: set[str | None]) -> None:
    # The previous generation stays: a server may still be answering from it for a moment.
    for gen in index_dir.glob("gen-*"):
        if gen.name not in keep and not gen.name.endswith(".tmp"):
            shutil.rmtree(gen, ignore_errors=True)
