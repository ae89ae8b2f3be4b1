"""Search through HTTP while visitors type, with same-run baselines, plus server memory.

For each knowledge base (the arduino help center, and synthetic ones of 10k and 50k articles)
and each repeat, a fresh uvicorn server is started and fed an as-you-type stream (see
stream.py): the first 30% of the stream warms it up, the rest is timed one request at a time
(p50/p95/p99), then a second stream is sent over 8 connections for requests/s. Baselines in the
same run: `GET /bench/fixed` (fixed JSON from the same app and server: the framework's ceiling)
and, in this process, Whoosh's own matcher running the same query terms (raw Whoosh) next to
Deskbell's engine with its result cache bypassed. Server RSS is read from /proc after the
queries. On the 10k set, one article is changed and reindexed while the server runs, and the
first query answered by the new generation is timed (the cold query after a swap).
"""

from __future__ import annotations

import http.client
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from whoosh import query as Q

from benchmarks.common import Figure, index_for, load, percentile, rss_mb, running_server
from benchmarks.stream import as_you_type, load_queries
from widget_server.search import Generation, Synonyms, current_generation, reindex
from widget_server.search.engine import ANY_TEXT
from widget_server.search.schema import STEMMED_FIELDS

WARMUP_SHARE = 0.3
CONCURRENCY = 8


def search_path(q: str) -> str:
    return f"/api/v1/search?q={quote(q)}&limit=10"


def _split(seed: int) -> tuple[list[str], list[str]]:
    stream = as_you_type(load_queries(), seed=seed)
    cut = int(len(stream) * WARMUP_SHARE)
    return stream[:cut], stream[cut:]


def _http_round(data_dir: Path, kb_dir: Path, seed: int, seconds: float) -> dict[str, Any]:
    warmup, measured = _split(seed)
    _, other = _split(seed + 1000)
    with running_server(data_dir, kb_dir) as server:
        load(server.port, [search_path(q) for q in warmup], max_seconds=120)
        timed = load(server.port, [search_path(q) for q in measured], max_seconds=180)
        busy = load(server.port, [search_path(q) for q in other], concurrency=CONCURRENCY,
                    max_seconds=seconds, max_requests=200_000)
        fixed = load(server.port, ["/bench/fixed"], concurrency=CONCURRENCY,
                     max_seconds=seconds, max_requests=200_000)
        rss = rss_mb(server.pid)
    lat = timed["latencies_ms"]
    return {
        "p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
        "rps": len(busy["latencies_ms"]) / busy["elapsed_s"],
        "fixed_rps": len(fixed["latencies_ms"]) / fixed["elapsed_s"],
        "rss_mb": rss, "requests": len(lat),
        "errors": timed["errors"] + busy["errors"] + fixed["errors"],
    }


def _whoosh_query(clauses: list[list[tuple[str, str, float]]]) -> Q.Query:
    # The same terms and weights Deskbell scores, as Whoosh query objects (ANY_TEXT = each field).
    def fields(name: str) -> tuple[str, ...]:
        return STEMMED_FIELDS if name == ANY_TEXT else (name,)

    words = [Q.Or([Q.Term(f, t, boost=w) for name, t, w in clause for f in fields(name)])
             for clause in clauses]
    return Q.Or(words, scale=0.9)


def _in_process(data_dir: Path, seed: int) -> dict[str, float]:
    """Median ms per query: Whoosh's matcher vs Deskbell's engine, same terms, no caches."""
    _, measured = _split(seed)
    index_dir = data_dir / "index"
    gen = Generation(index_dir, current_generation(index_dir) or "")
    synonyms = Synonyms()
    raw, ours = [], []
    try:
        for q in measured:
            clauses, _ = gen.build_query(q, synonyms)
            if not clauses:
                continue
            started = time.perf_counter()
            results = gen.searcher.search(_whoosh_query(clauses), limit=10)
            [hit["slug"] for hit in results]
            raw.append((time.perf_counter() - started) * 1000)
        gen.close()
        gen = Generation(index_dir, current_generation(index_dir) or "")
        for q in measured:
            started = time.perf_counter()
            gen._search(q, 10, synonyms, None)
            ours.append((time.perf_counter() - started) * 1000)
    finally:
        gen.close()
    return {"whoosh_p50": statistics.median(raw), "whoosh_p99": percentile(raw, 99),
            "engine_p50": statistics.median(ours), "engine_p99": percentile(ours, 99)}


def cold_swap(data_dir: Path, kb_dir: Path) -> dict[str, float]:
    """Change one article, reindex while the server runs, time the first query on the new index."""
    article = sorted(kb_dir.rglob("*.md"))[len(list(kb_dir.rglob("*.md"))) // 2]
    original = article.read_bytes()
    word = f"zqxswap{int(time.time())}"
    with running_server(data_dir, kb_dir) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for q in as_you_type(load_queries())[:200]:  # a server that has been answering a while
            conn.request("GET", search_path(q))
            conn.getresponse().read()
        try:
            article.write_bytes(original + f"\n\nSwap marker {word}.\n".encode())
            started = time.perf_counter()
            result = reindex(kb_dir, data_dir / "index")
            reindex_s = time.perf_counter() - started
        finally:
            article.write_bytes(original)
        first_ms, worst_ms = _first_hit(conn, word, deadline=time.monotonic() + 30)
        conn.close()
    return {"incremental_reindex_s": reindex_s, "indexed": result.indexed,
            "cold_first_query_ms": first_ms, "worst_during_swap_ms": worst_ms}


def _first_hit(conn: http.client.HTTPConnection, word: str, deadline: float) -> tuple[float, float]:
    worst = 0.0
    while time.monotonic() < deadline:
        started = time.perf_counter()
        # A new spelling each time: the old generation's result cache must not answer it.
        conn.request("GET", search_path(f"{word} {int(started * 1e6) % 997}"))
        body = conn.getresponse().read()
        elapsed = (time.perf_counter() - started) * 1000
        worst = max(worst, elapsed)
        if b'"total":0' not in body:
            return elapsed, worst
        time.sleep(0.02)
    raise RuntimeError("the server never switched to the new generation")


def run(sizes: list[int | None], repeats: int, seconds: float) -> list[Figure]:
    figures: list[Figure] = []
    for size in sizes:
        label = "arduino (414)" if size is None else f"{size // 1000}k"
        kb_dir, data_dir, built = index_for(size)
        rounds = [_http_round(data_dir, kb_dir, seed, seconds) for seed in range(repeats)]
        local = [_in_process(data_dir, seed) for seed in range(repeats)]
        figures += _figures(label, size, rounds, local)
        if size == 10_000:
            swaps = [cold_swap(data_dir, kb_dir) for _ in range(max(1, repeats - 1))]
            figures += _swap_figures(swaps)
    return figures


def _figures(label: str, size: int | None, rounds: list[dict[str, Any]],
             local: list[dict[str, float]]) -> list[Figure]:
    def col(rows: list[dict[str, Any]], key: str) -> list[float]:
        return [float(r[key]) for r in rows]

    at10k = size == 10_000
    figs = [
        Figure("search", f"{label} HTTP p50", "ms", col(rounds, "p50"), "raw Whoosh p50",
               col(local, "whoosh_p50"), "≤ 5" if at10k else ""),
        Figure("search", f"{label} HTTP p95", "ms", col(rounds, "p95")),
        Figure("search", f"{label} HTTP p99", "ms", col(rounds, "p99"), "raw Whoosh p99",
               col(local, "whoosh_p99"), "≤ 15" if at10k else ""),
        Figure("search", f"{label} engine in-process p50", "ms", col(local, "engine_p50"),
               "raw Whoosh p50", col(local, "whoosh_p50")),
        Figure("search", f"{label} search c={CONCURRENCY}", "req/s", col(rounds, "rps"),
               "fixed JSON req/s", col(rounds, "fixed_rps"), "≥ 50% ceil" if at10k else "",
               lower_is_better=False),
        Figure("memory", f"{label} server RSS after queries", "MB", col(rounds, "rss_mb"),
               target="≤ 150" if at10k else ""),
    ]
    if at10k:
        figs[0].check(5)
        figs[2].check(15)
        ceiling = statistics.median(col(rounds, "fixed_rps"))
        figs[4].met = figs[4].median >= 0.5 * ceiling
        figs[5].check(150)
    return figs


def _swap_figures(swaps: list[dict[str, float]]) -> list[Figure]:
    return [
        Figure("search", "10k cold first query after swap", "ms",
               [s["cold_first_query_ms"] for s in swaps], target="≤ 50").check(50),
        Figure("search", "10k worst query during swap", "ms",
               [s["worst_during_swap_ms"] for s in swaps]),
        Figure("reindex", "10k one changed article (live server)", "s",
               [s["incremental_reindex_s"] for s in swaps], target="≤ 2").check(2),
    ]
