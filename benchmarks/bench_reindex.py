"""Full reindex of synthetic knowledge bases (articles/s), with plain Whoosh as the baseline.

Each run builds a fresh generation in a temporary folder with `reindex(kb_dir, …, full=True)`,
exactly what `deskbell reindex --full` does (reading, validating and rendering the markdown
included). The baseline in the same run indexes the same rendered text into a plain Whoosh
schema (title + body, default analyzer): the cost of the engine alone. The incremental figure
(one changed article in 10k, server running) comes from bench_search.cold_swap.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.fields import ID, TEXT, Schema

from benchmarks.common import Figure
from benchmarks.corpus import synthetic_kb
from widget_server.articles import load_kb
from widget_server.search import reindex


def _full(kb_dir: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="deskbell-reindex-") as tmp:
        started = time.perf_counter()
        reindex(kb_dir, Path(tmp) / "index", full=True)
        return time.perf_counter() - started


def _plain(kb_dir: Path) -> float:
    articles = load_kb(kb_dir).public()
    texts = [(a.slug, a.title, a.render().text) for a in articles]
    with tempfile.TemporaryDirectory(prefix="deskbell-plain-") as tmp:
        started = time.perf_counter()
        ix = whoosh_index.create_in(tmp, Schema(slug=ID(stored=True), title=TEXT, body=TEXT))
        writer = ix.writer()
        for slug, title, body in texts:
            writer.add_document(slug=slug, title=title, body=body)
        writer.commit()
        ix.close()
        return time.perf_counter() - started


def run(sizes: list[int], repeats: int) -> list[Figure]:
    figures = []
    for size in sizes:
        kb_dir = synthetic_kb(size)
        runs = repeats if size <= 1000 else 1  # a 10k build takes minutes here: once is enough
        ours = [size / _full(kb_dir) for _ in range(runs)]
        plain = [size / _plain(kb_dir) for _ in range(runs)]
        label = f"{size // 1000}k" if size >= 1000 else str(size)
        fig = Figure("reindex", f"{label} full build", "articles/s", ours,
                     "plain Whoosh (engine only)", plain, lower_is_better=False)
        if size == 10_000:
            fig.target = "≥ 333 (≤ 30 s)"
            fig.check(10_000 / 30)
        figures.append(fig)
    return figures
