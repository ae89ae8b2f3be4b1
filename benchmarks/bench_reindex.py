"""Full reindex of synthetic knowledge bases, with plain Whoosh and words-only as baselines.

Each run builds a fresh generation in a temporary folder with `reindex(kb_dir, …, full=True)`,
exactly what `deskbell reindex --full` does (reading, validating and rendering the markdown
included), once with `semantic=False` (words only) and once as shipped (words, then vectors
and the calibrated threshold). A large build makes its words live before it encodes: a watcher
process polls the index folder (every 5 ms, on the same monotonic clock) and notes when CURRENT
first names the new generation (words live: a server answers from it within a second) and when
that generation's `vectors.json` appears (vectors ready: the server ranks by meaning); the run
ends when `reindex` returns (the threshold calibrated). A process, not a thread, watches:
reindex prepares articles in forked workers only when its caller has no other thread.

The baseline in the same run indexes the same rendered text into a plain Whoosh schema
(title + body, default analyzer): the cost of the engine alone. The incremental figure (one
changed article in 10k, server running) comes from bench_search.cold_swap.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.fields import ID, TEXT, Schema

from benchmarks.common import PYTHON, REPO, Figure
from benchmarks.corpus import synthetic_kb
from widget_server.articles import load_kb
from widget_server.search import reindex
from widget_server.search.layout import CURRENT_FILE
from widget_server.search.vectors import META_FILE

VECTORS_TARGET_S = 600  # vectors of 10k articles ready within 10 minutes on 2 cores
POLL_S = 0.005


def watch(index_dir: Path) -> None:
    """Print (as JSON lines) the monotonic time at which CURRENT first names a generation and
    at which that generation's vectors.json appears; runs until killed."""
    print("ready", flush=True)
    current = index_dir / CURRENT_FILE
    live = None
    while True:
        if live is None and current.is_file():
            live = current.read_text().strip() or None
            if live:
                print(json.dumps({"words_live": time.monotonic()}), flush=True)
        if live is not None and (index_dir / live / META_FILE).is_file():
            print(json.dumps({"vectors_ready": time.monotonic()}), flush=True)
            return
        time.sleep(POLL_S)


def _full(kb_dir: Path, semantic: bool) -> dict[str, float]:
    """Seconds until words live, vectors ready (semantic) and reindex returned."""
    with tempfile.TemporaryDirectory(prefix="deskbell-reindex-") as tmp:
        index_dir = Path(tmp) / "index"
        index_dir.mkdir()
        watcher = subprocess.Popen(
            [PYTHON, "-c", f"from benchmarks.bench_reindex import watch; from pathlib import Path;"
                           f" watch(Path({str(index_dir)!r}))"],
            cwd=REPO, stdout=subprocess.PIPE, text=True)
        try:
            assert watcher.stdout is not None
            if watcher.stdout.readline().strip() != "ready":
                raise RuntimeError("the index watcher did not start")
            started = time.monotonic()
            result = reindex(kb_dir, index_dir, full=True, semantic=semantic)
            returned = time.monotonic() - started
        finally:
            time.sleep(0.05)
            watcher.kill()
            out, _ = watcher.communicate()
    seen: dict[str, Any] = {}
    for line in out.splitlines():
        seen.update(json.loads(line))
    if semantic and (result.semantic_note or "vectors_ready" not in seen):
        raise RuntimeError(f"the build has no vectors: {result.semantic_note or seen}")
    return {"words_live": seen["words_live"] - started, "returned": returned,
            "vectors_ready": seen.get("vectors_ready", float("nan")) - started,
            "encoded": result.encoded}


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
        words = [_full(kb_dir, semantic=False) for _ in range(runs)]
        plain = [size / _plain(kb_dir) for _ in range(runs)]
        # With vectors a build takes minutes even at 1k: once per size.
        hybrid = [_full(kb_dir, semantic=True)]
        print(f"  reindex {size}: words only {words}, with vectors {hybrid}", file=sys.stderr,
              flush=True)
        label = f"{size // 1000}k" if size >= 1000 else str(size)
        words_rate = Figure("reindex", f"{label} full build, words only", "articles/s",
                            [size / w["returned"] for w in words], "plain Whoosh (engine only)",
                            plain, lower_is_better=False)
        live = Figure("reindex", f"{label} full build: words live", "s",
                      [h["words_live"] for h in hybrid], "words-only build",
                      [w["words_live"] for w in words])
        ready = Figure("reindex", f"{label} full build: vectors ready", "s",
                       [h["vectors_ready"] for h in hybrid])
        done = Figure("reindex", f"{label} full build: threshold calibrated", "s",
                      [h["returned"] for h in hybrid])
        if size == 10_000:
            words_rate.target = "≥ 333 (≤ 30 s)"
            words_rate.check(10_000 / 30)
            # "About as fast as words only": within 15% of the same-run words-only build.
            baseline = live.baseline_median or 0.0
            live.target = "≤ words only +15%"
            live.met = live.median <= 1.15 * baseline
            ready.target = f"≤ {VECTORS_TARGET_S}"
            ready.check(VECTORS_TARGET_S)
        figures += [words_rate, live, ready, done]
    return figures
