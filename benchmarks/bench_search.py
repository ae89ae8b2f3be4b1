"""Search through HTTP while visitors type, with same-run baselines, plus server memory.

For each knowledge base (the arduino help center, and synthetic ones of 10k and 50k articles),
each repeat and each ranking (hybrid, the default; and words only, `semantic = false`, the
baseline) a fresh uvicorn server is started and fed an as-you-type stream (see stream.py):
keystrokes go with `&instant=1` (ranked by words, never answered), the finished query of each
typed question without it (ranked by words and meaning, maybe answered), as the widget sends
them. The first 30% of the stream warms the server up; the rest is timed one request at a
time, twice: cold (the result cache has never seen these queries: a request whose cache key
was already sent to this server is left out of the cold figures) and warm (the same requests
again). Then a mixed stream never sent to that server (keystrokes and finished queries of the
three quality sets' questions, off-topic ones included, each request once) goes over 8
connections for requests/s, next to `GET /bench/fixed` (fixed JSON from the same app and
server: the framework's ceiling). In this process, Whoosh's own matcher runs the same query
terms (raw Whoosh) next to Deskbell's engine with its result cache bypassed. Server RSS is read
from /proc after the queries. On the 10k set, one article is changed and reindexed (vectors
included) while the server runs, and the first query answered by the new generation is timed
(the cold query after a swap).
"""

from __future__ import annotations

import http.client
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from whoosh import query as Q

from benchmarks.common import (
    Figure,
    health,
    index_for,
    load,
    percentile,
    rss_mb,
    running_server,
)
from benchmarks.stream import QUERIES, load_queries, typing_stream
from widget_server.search import Generation, Synonyms, current_generation, reindex
from widget_server.search.engine import ANY_TEXT
from widget_server.search.query import query_words
from widget_server.search.schema import STEMMED_FIELDS

WARMUP_SHARE = 0.3
CONCURRENCY = 8
HYBRID, WORDS = "hybrid", "words only"
MODES = {HYBRID: {}, WORDS: {"DESKBELL_SEMANTIC": "false"}}
MIXED_SETS = ("arduino", "duckduckgo", "disroot")

Stream = list[tuple[str, bool]]  # (text, finished)


def search_path(q: str, instant: bool = False) -> str:
    return f"/api/v1/search?q={quote(q)}&limit=10" + ("&instant=1" if instant else "")


def _paths(stream: Stream) -> list[str]:
    return [search_path(q, instant=not finished) for q, finished in stream]


def _split(seed: int) -> tuple[Stream, Stream]:
    """Warm-up and timed parts of one stream, cut between two typed questions."""
    stream = typing_stream(load_queries(), seed=seed)
    cut = int(len(stream) * WARMUP_SHARE)
    while cut < len(stream) and not stream[cut - 1][1]:
        cut += 1
    return stream[:cut], stream[cut:]


def _cache_key(q: str, finished: bool, semantic: bool) -> tuple[str, bool]:
    # As Generation.search keys its result cache: the query's words, and whether it is
    # ranked by words alone (a keystroke, or any query on a words-only server).
    return " ".join(query_words(q)), not (finished and semantic)


def _first_time(stream: Stream, seen: set[tuple[str, bool]], semantic: bool) -> list[bool]:
    """For each request, whether its cache key is new to the server (and note it as sent)."""
    fresh = []
    for q, finished in stream:
        key = _cache_key(q, finished, semantic)
        fresh.append(key not in seen)
        seen.add(key)
    return fresh


def _mixed(seed: int, seen: set[tuple[str, bool]], semantic: bool) -> Stream:
    """Keystrokes and finished queries of every quality set's questions, each request new to
    the server (already-sent cache keys dropped), in typing order."""
    queries = [q for name in MIXED_SETS
               for q in load_queries(QUERIES.with_name(f"{name}.json"), offtopic=True)]
    stream = typing_stream(queries, seed=seed + 1000)
    return [item for item, new in zip(stream, _first_time(stream, seen, semantic), strict=True)
            if new]


def _http_round(data_dir: Path, kb_dir: Path, seed: int, seconds: float,
                mode: str) -> dict[str, Any]:
    semantic = mode == HYBRID
    warmup, measured = _split(seed)
    seen: set[tuple[str, bool]] = set()
    _first_time(warmup, seen, semantic)
    new = _first_time(measured, seen, semantic)
    mixed = _mixed(seed, seen, semantic)
    with running_server(data_dir, kb_dir, settings=MODES[mode]) as server:
        ranking = health(server.port)["search"]["ranking"]
        if ranking != ("hybrid" if semantic else "lexical"):
            raise RuntimeError(f"the {mode} server ranks {ranking}: {health(server.port)}")
        load(server.port, _paths(warmup), max_seconds=120)
        cold = load(server.port, _paths(measured), max_seconds=180)
        warm = load(server.port, _paths(measured), max_seconds=180)
        busy = load(server.port, _paths(mixed), concurrency=CONCURRENCY, max_seconds=120)
        fixed = load(server.port, ["/bench/fixed"], concurrency=CONCURRENCY,
                     max_seconds=seconds, max_requests=200_000)
        rss = rss_mb(server.pid)

    def pick(report: dict[str, Any], finished: bool, only_new: bool) -> list[float]:
        return [ms for ms, (_, fin), fresh in zip(report["latencies_ms"], measured, new,
                                                  strict=False)
                if fin == finished and (fresh or not only_new)]

    out: dict[str, Any] = {
        "mixed_rps": len(busy["latencies_ms"]) / busy["elapsed_s"],
        "mixed_requests": len(busy["latencies_ms"]),
        "mixed_finished": sum(fin for _, fin in mixed[:len(busy["latencies_ms"])]),
        "fixed_rps": len(fixed["latencies_ms"]) / fixed["elapsed_s"],
        "rss_mb": rss, "requests": len(cold["latencies_ms"]),
        "errors": cold["errors"] + warm["errors"] + busy["errors"] + fixed["errors"],
    }
    for name, report, only_new in (("cold", cold, True), ("warm", warm, False)):
        keys, done = pick(report, False, only_new), pick(report, True, only_new)
        out[f"key_{name}_n"], out[f"fin_{name}_n"] = len(keys), len(done)
        for q in (50, 95, 99):
            out[f"key_{name}_p{q}"] = percentile(keys, q)
            out[f"fin_{name}_p{q}"] = percentile(done, q)
    if out["errors"]:
        raise RuntimeError(f"{out['errors']} failed requests in the {mode} round")
    return out


def _whoosh_query(clauses: list[list[tuple[str, str, float]]]) -> Q.Query:
    # The same terms and weights Deskbell scores, as Whoosh query objects (ANY_TEXT = each field).
    def fields(name: str) -> tuple[str, ...]:
        return STEMMED_FIELDS if name == ANY_TEXT else (name,)

    words = [Q.Or([Q.Term(f, t, boost=w) for name, t, w in clause for f in fields(name)])
             for clause in clauses]
    return Q.Or(words, scale=0.9)


def _in_process(data_dir: Path, seed: int) -> dict[str, float]:
    """Median ms per query: Whoosh's matcher vs Deskbell's engine, same terms, no caches."""
    measured = [q for q, _ in _split(seed)[1]]
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
        for path in _paths(typing_stream(load_queries())[:200]):  # answering a while already
            conn.request("GET", path)
            conn.getresponse().read()
        try:
            article.write_bytes(original + f"\n\nSwap marker {word}.\n".encode())
            started = time.perf_counter()
            result = reindex(kb_dir, data_dir / "index")
            reindex_s = time.perf_counter() - started
        finally:
            article.write_bytes(original)
        # The reindex may outlast uvicorn's keep-alive (5 s): connect again before timing.
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.connect()
        first_ms, worst_ms = _first_hit(conn, word, deadline=time.monotonic() + 30)
        conn.close()
        ranking = health(server.port)["search"]["ranking"]
    if (result.indexed, result.encoded, result.semantic_note, ranking) != (1, 1, "", "hybrid"):
        raise RuntimeError(f"the swap was not one article with its vectors: {result}, {ranking}")
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
        rounds = {mode: [_http_round(data_dir, kb_dir, seed, seconds, mode)
                         for seed in range(repeats)] for mode in MODES}
        for mode, rows in rounds.items():
            for r in rows:
                print(f"  {label} {mode}: {r['requests']} timed requests, cold keystrokes "
                      f"{r['key_cold_n']} / finished {r['fin_cold_n']}; mixed stream "
                      f"{r['mixed_requests']} requests ({r['mixed_finished']} finished)",
                      flush=True)
        local = [_in_process(data_dir, seed) for seed in range(repeats)]
        figures += _figures(label, size, rounds[HYBRID], rounds[WORDS], local)
        if size == 10_000:
            swaps = [cold_swap(data_dir, kb_dir) for _ in range(max(1, repeats - 1))]
            figures += _swap_figures(swaps)
    return figures


def _figures(label: str, size: int | None, rounds: list[dict[str, Any]],
             words: list[dict[str, Any]], local: list[dict[str, float]]) -> list[Figure]:
    def col(rows: list[dict[str, Any]], key: str) -> list[float]:
        return [float(r[key]) for r in rows]

    at10k = size == 10_000
    figs: list[Figure] = []
    for cache in ("cold", "warm"):
        for key, what, limit in (("key", "keystroke", 5), ("key", "keystroke", 20),
                                 ("fin", "finished query", 30)):
            q = {5: 50, 20: 99, 30: 95}[limit]
            name = f"{key}_{cache}_p{q}"
            fig = Figure("search", f"{label} {what} p{q}, {cache}", "ms", col(rounds, name),
                         "words-only server", col(words, name),
                         f"≤ {limit}" if at10k else "")
            figs.append(fig.check(limit) if at10k else fig)
        name = f"fin_{cache}_p50"
        figs.append(Figure("search", f"{label} finished query p50, {cache}", "ms",
                           col(rounds, name), "words-only server", col(words, name)))
    figs += [
        Figure("search", f"{label} engine in-process p50", "ms", col(local, "engine_p50"),
               "raw Whoosh p50", col(local, "whoosh_p50")),
        Figure("search", f"{label} engine in-process p99", "ms", col(local, "engine_p99"),
               "raw Whoosh p99", col(local, "whoosh_p99")),
    ]
    for rows, which in ((rounds, ""), (words, ", words-only server")):
        fig = Figure("search", f"{label} mixed cache-cold c={CONCURRENCY}{which}", "req/s",
                     col(rows, "mixed_rps"), "fixed JSON req/s", col(rows, "fixed_rps"),
                     "≥ 50% ceil" if at10k and not which else "", lower_is_better=False)
        if at10k and not which:
            fig.met = fig.median >= 0.5 * statistics.median(col(rows, "fixed_rps"))
        figs.append(fig)
    rss = Figure("memory", f"{label} server RSS after queries", "MB", col(rounds, "rss_mb"),
                 "words-only server", col(words, "rss_mb"), "≤ 200" if at10k else "")
    figs.append(rss.check(200) if at10k else rss)
    return figs


def _swap_figures(swaps: list[dict[str, float]]) -> list[Figure]:
    return [
        Figure("search", "10k cold first query after swap", "ms",
               [s["cold_first_query_ms"] for s in swaps], target="≤ 50").check(50),
        Figure("search", "10k worst query during swap", "ms",
               [s["worst_during_swap_ms"] for s in swaps]),
        Figure("reindex", "10k one changed article + vectors (live server)", "s",
               [s["incremental_reindex_s"] for s in swaps], target="≤ 2").check(2),
    ]
