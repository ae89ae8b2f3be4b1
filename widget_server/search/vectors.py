"""Article and section vectors of one index generation: built after the words, cached by
content hash, memory-mapped when served.

Files in a generation folder, each written aside and renamed, `vectors.json` last:
  vectors-articles.npy   float32, one unit row per article (title, summary, headings, opening)
  vectors-sections.npy   float16, one unit row per section (its heading and first words)
  vectors.json           the model, each row's article slug and content hash, sections' anchors

The words of a generation go live first; its vectors are added to the same folder when they
are encoded, and a server watching that generation starts ranking by meaning then. An
incremental reindex encodes only articles whose content hash changed: the other rows are
copied from the previous generation when it was encoded by the same model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..durable import replacing, write_atomic
from .embedding import DIMENSIONS, Encoder
from .sections import section_text, split_sections

META_FILE = "vectors.json"
ARTICLES_FILE = "vectors-articles.npy"
SECTIONS_FILE = "vectors-sections.npy"
FORMAT = 2  # 2: articles read at 64 tokens, sections at 48
# What the model reads of each: title, summary, headings and the start of the body fit in 64
# tokens; a section's heading and first sentence in 48. Longer inputs cost more than they
# bring: 128/64 tokens measured the same quality (mean MRR@10 0.874 against 0.875 on the
# tuning sets) at several times the encoding time, which decides a large build's length.
ARTICLE_TOKENS = 64
SECTION_TOKENS = 48
MAX_SECTIONS = 12  # per article: later sections of very long articles are reached through it


class VectorsUnusable(RuntimeError):
    """A generation's vector files are missing, damaged or from another model."""


@dataclass(frozen=True)
class Source:
    """What the vectors of one article are made from."""

    slug: str
    hash: str
    title: str
    summary: str
    html: str = ""
    text: str = ""


def article_text(source: Source, headings: Iterable[str]) -> str:
    # Title, summary and headings say what an article is about better than its first
    # paragraphs; the body's opening fills what is left of the model's 128 tokens.
    return ". ".join(p for p in (source.title, source.summary, "; ".join(headings), source.text) if p)


def build(gen_dir: Path, sources: list[Source], encoder: Encoder, previous: Path | None,
          progress: Callable[[int, int], None] | None = None,
          fill: Callable[[Source], Source] = lambda source: source) -> int:
    """Write the vectors of `sources` into gen_dir; returns how many articles were encoded.
    `fill` reads an article's text, only for the articles that are encoded."""
    reuse = _reusable(previous, encoder.identity) if previous else {}
    fresh = [fill(s) for s in sources if (s.slug, s.hash) not in reuse]
    encoded = _encode(fresh, encoder, progress)
    articles = np.zeros((len(sources), DIMENSIONS), dtype=np.float32)
    section_rows: list[Any] = []
    section_meta: list[list[str]] = []
    spans: dict[str, list[int]] = {}
    for row, source in enumerate(sources):
        vector, sections = encoded.get(source.slug) or reuse[source.slug, source.hash]
        articles[row] = vector
        start = len(section_meta)
        for anchor, heading, section_vector in sections:
            section_meta.append([anchor, heading])
            section_rows.append(section_vector)
        spans[source.slug] = [start, len(section_meta)]
    sections_array = (np.vstack(section_rows) if section_rows
                      else np.zeros((0, articles.shape[1]))).astype(np.float16)
    _save(gen_dir / ARTICLES_FILE, articles)
    _save(gen_dir / SECTIONS_FILE, sections_array)
    meta = {"format": FORMAT, "model": encoder.identity,
            "articles": [[s.slug, s.hash] for s in sources],
            "sections": section_meta, "spans": spans}
    write_atomic(gen_dir / META_FILE, json.dumps(meta, ensure_ascii=False))
    return len(fresh)


Encoded = tuple[Any, list[tuple[str, str, Any]]]


def _encode(sources: list[Source], encoder: Encoder,
            progress: Callable[[int, int], None] | None) -> dict[str, Encoded]:
    out: dict[str, Encoded] = {}
    chunk = 64  # articles per step: a progress bar that moves, batches that stay efficient
    for start in range(0, len(sources), chunk):
        part = sources[start:start + chunk]
        splits = [split_sections(s.html)[:MAX_SECTIONS] for s in part]
        vectors = encoder.encode([article_text(s, [x.heading for x in sp if x.heading])
                                  for s, sp in zip(part, splits, strict=True)], ARTICLE_TOKENS, batch=16)
        flat = [(i, x) for i, sp in enumerate(splits) for x in sp]
        section_vectors = encoder.encode([section_text(part[i].title, x) for i, x in flat],
                                         SECTION_TOKENS, batch=16) if flat else []
        per: dict[int, list[tuple[str, str, Any]]] = {i: [] for i in range(len(part))}
        for (i, x), vector in zip(flat, section_vectors, strict=True):
            per[i].append((x.anchor, x.heading, vector))
        for i, source in enumerate(part):
            out[source.slug] = (vectors[i], per[i])
        if progress:
            progress(min(start + chunk, len(sources)), len(sources))
    return out


def _reusable(previous: Path, model: str) -> dict[tuple[str, str], Encoded]:
    try:
        loaded = Vectors.open(previous, model)
    except VectorsUnusable:
        return {}
    out: dict[tuple[str, str], Encoded] = {}
    for row, (slug, digest) in enumerate(loaded.rows):
        start, end = loaded.spans.get(slug, (0, 0))
        sections = [(loaded.sections[i][0], loaded.sections[i][1],
                     np.asarray(loaded.section_vectors[i], dtype=np.float32)) for i in range(start, end)]
        out[slug, digest] = (np.array(loaded.article_vectors[row]), sections)
    return out


def _save(path: Path, array: Any) -> None:
    with replacing(path, binary=True) as handle:
        np.save(handle, array)


class Vectors:
    """One generation's vectors, memory-mapped: pages are read when a query touches them."""

    def __init__(self, meta: dict[str, Any], articles: Any, sections: Any):
        self.model: str = meta["model"]
        self.rows: list[tuple[str, str]] = [(slug, digest) for slug, digest in meta["articles"]]
        self.row_of = {slug: row for row, (slug, _) in enumerate(self.rows)}
        self.sections: list[list[str]] = meta["sections"]
        self.spans: dict[str, tuple[int, int]] = {k: (v[0], v[1]) for k, v in meta["spans"].items()}
        self.article_vectors = articles
        self.section_vectors = sections

    @classmethod
    def present(cls, gen_dir: Path) -> bool:
        return (gen_dir / META_FILE).exists()

    @classmethod
    def open(cls, gen_dir: Path, model: str) -> Vectors:
        try:
            meta = json.loads((gen_dir / META_FILE).read_text(encoding="utf-8"))
            articles = np.load(gen_dir / ARTICLES_FILE, mmap_mode="r")
            sections = np.load(gen_dir / SECTIONS_FILE, mmap_mode="r")
        except FileNotFoundError as exc:
            raise VectorsUnusable(f"missing {Path(exc.filename or '').name}") from None
        except (ValueError, OSError, json.JSONDecodeError) as exc:
            raise VectorsUnusable(f"unreadable vector files ({exc})") from None
        if meta.get("format") != FORMAT or meta.get("model") != model:
            raise VectorsUnusable("vectors were built by another model or Deskbell version; "
                                  "run deskbell reindex --full")
        if (articles.shape[0] != len(meta["articles"]) or sections.shape[0] != len(meta["sections"])
                or articles.ndim != 2 or not np.isfinite(articles).all()):
            raise VectorsUnusable("vector files do not match their index (damaged); run deskbell reindex --full")
        return cls(meta, articles, sections)
