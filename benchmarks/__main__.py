"""Run every Deskbell benchmark: `python -m benchmarks [--quick] [--only PART,...] [--sizes ...]`.

Parts: search (HTTP as-you-type + memory + cold swap), reindex, tickets, widget, quality,
scale, report (the inbox and the 30-day report over a year of PostgreSQL).
Prints one table (median, spread min–max over the runs, the baseline measured in the same run,
and the target) and writes benchmarks/results/run-<time>.json and latest.json.
`--quick`: arduino + 10k, 2 repeats, short throughput windows, 1k tickets only.
`--sizes arduino,10k` limits the search part to those knowledge bases.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.common import PYTHON, REPO, Figure, print_table

PARTS = ("search", "reindex", "tickets", "widget", "quality", "scale", "report")
RESULTS = REPO / "benchmarks" / "results"


QUALITY_SETS = ("arduino", "duckduckgo", "disroot")  # disroot was never tuned on
QUALITY_KINDS = {"keyword": 0.90, "natural": 0.90, "question": 0.90, "multi": 0.90,
                 "typo": 0.85, "prefix": 0.75}  # success@3 aims per kind of query
HYBRID, WORDS = "deskbell", "deskbell words only"


def _quality() -> list[Figure]:
    out = RESULTS / "search_quality.json"
    subprocess.run([PYTHON, "-m", "benchmarks.search_quality", "--json", str(out),
                    *(arg for name in QUALITY_SETS for arg in
                      ("--queries", str(REPO / "benchmarks" / "queries" / f"{name}.json")))],
                   cwd=REPO, check=True)
    data: dict[str, Any] = json.loads(out.read_text())
    figures = []
    for name in QUALITY_SETS:
        ours, words = data[name][HYBRID], data[name][WORDS]

        def fig(kind: str, metric: str, limit: float | None = None, at_least: bool = True,
                name: str = name, ours: dict[str, Any] = ours,
                words: dict[str, Any] = words) -> Figure:
            f = Figure("quality", f"{name} {metric} ({kind})", "share", [ours[kind][metric]],
                       "words only", [words[kind][metric]],
                       "" if limit is None else f"{'≥' if at_least else '≤'} {limit:.2f}",
                       lower_is_better=not at_least)
            return f if limit is None else f.check(limit)

        figures += [fig("all", "success@1"), fig("all", "success@3", 0.90), fig("all", "mrr@10")]
        figures += [fig(kind, "success@3", limit) for kind, limit in QUALITY_KINDS.items()]
        figures += [fig("offtopic", "abstain", 0.80), fig("all", "lost", 0.05, at_least=False),
                    fig("all", "wrong", at_least=False)]
    return figures


def _tickets(quick: bool) -> list[Figure]:
    from benchmarks import bench_tickets, bench_tickets_http

    sizes = [1000] if quick else [1000, 10_000, 100_000]
    rows = [bench_tickets.run(size, 10 if quick else 25) for size in sizes]
    figures = [Figure("tickets", f"store add p50, {r['stored'] // 1000}k stored", "ms",
                      [r["ticketstore_ms"]], "TinyDB insert", [r["tinydb_ms"]]) for r in rows]
    return figures + bench_tickets_http.run(sizes, 1 if quick else 3, 50 if quick else 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (about 3 minutes)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma list of {PARTS}")
    parser.add_argument("--sizes", default=None,
                        help="knowledge bases for search, comma list of arduino, 10k, 50k "
                             "(default: all three; --quick: arduino,10k)")
    args = parser.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    figures: list[Figure] = []
    for part in parts:
        print(f"== {part}", flush=True)
        figures += _run_part(part, args.quick, args.sizes)
    print()
    print_table(figures)
    _write(figures, args.quick, time.perf_counter() - started)


def _run_part(part: str, quick: bool, only_sizes: str | None = None) -> list[Figure]:
    # Each part's module is imported when it runs: one part's imports never stop the others.
    repeats = 2 if quick else 3
    if part == "search":
        from benchmarks import bench_search

        names = only_sizes or ("arduino,10k" if quick else "arduino,10k,50k")
        known: dict[str, int | None] = {"arduino": None, "10k": 10_000, "50k": 50_000}
        sizes = [known[n.strip()] for n in names.split(",") if n.strip()]
        return bench_search.run(sizes, repeats, 3.0 if quick else 8.0)
    if part == "reindex":
        from benchmarks import bench_reindex
        return bench_reindex.run([1000] if quick else [1000, 10_000], repeats)
    if part == "tickets":
        return _tickets(quick)
    if part == "widget":
        from benchmarks import bench_widget
        return bench_widget.run(repeats)
    if part == "scale":
        from benchmarks import bench_scale
        return bench_scale.run([1000] if quick else [1000, 10_000], repeats, 3.0 if quick else 8.0,
                               50 if quick else 200)
    if part == "report":
        from benchmarks import bench_report_scale
        # --quick: 100k tickets, 1M events (about a minute); else 1M and 10M (about 10)
        return bench_report_scale.run(100_000 if quick else 1_000_000,
                                      1_000_000 if quick else 10_000_000, repeats)
    return _quality()


def _write(figures: list[Figure], quick: bool, seconds: float) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"), "quick": quick,
        "seconds": round(seconds, 1), "machine": {"cpus": os.cpu_count(),
                                                   "python": platform.python_version(),
                                                   "load_avg": os.getloadavg()},
        "figures": [f.as_dict() for f in figures],
    }
    stamp = report["at"].replace(":", "").replace("-", "")
    text = json.dumps(report, indent=2, ensure_ascii=False)
    (RESULTS / f"run-{stamp}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    print(f"\nwrote {RESULTS / 'latest.json'} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
