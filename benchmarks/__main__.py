"""Run every Deskbell benchmark: `python -m benchmarks [--quick] [--only PART,...]`.

Parts: search (HTTP as-you-type + memory + cold swap), reindex, tickets, widget, quality.
Prints one table (median, spread min–max over the runs, the baseline measured in the same run,
and the target) and writes benchmarks/results/run-<time>.json and latest.json.
`--quick` (≤ ~3 min): arduino + 10k, 2 repeats, short throughput windows, 1k tickets only.
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

from benchmarks import bench_reindex, bench_search, bench_tickets, bench_tickets_http, bench_widget
from benchmarks.common import PYTHON, REPO, Figure, print_table

PARTS = ("search", "reindex", "tickets", "widget", "quality")
RESULTS = REPO / "benchmarks" / "results"


def _quality_run(name: str) -> dict[str, Any]:
    out = RESULTS / f"search_quality-{name}.json"
    subprocess.run([PYTHON, "-m", "benchmarks.search_quality", "--queries",
                    str(REPO / "benchmarks" / "queries" / f"{name}.json"), "--json", str(out)],
                   cwd=REPO, check=True)
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def _quality() -> list[Figure]:
    data = _quality_run("arduino")
    ours, plain = data["deskbell"]["all"], data["plain whoosh"]["all"]
    figures = [
        Figure("quality", "arduino success@3 (all)", "share", [ours["success@3"]],
               "plain Whoosh", [plain["success@3"]], "≥ 0.70", lower_is_better=False).check(0.70),
        Figure("quality", "arduino MRR@10 (all)", "share", [ours["mrr@10"]], "plain Whoosh",
               [plain["mrr@10"]], "≥ 0.66", lower_is_better=False).check(0.66),
    ]
    for kind in ("typo", "prefix"):
        figures.append(Figure("quality", f"arduino success@3 ({kind})", "share",
                              [data["deskbell"][kind]["success@3"]], "plain Whoosh",
                              [data["plain whoosh"][kind]["success@3"]], lower_is_better=False))
    second = _quality_run("duckduckgo")
    for metric in ("success@3", "mrr@10"):
        figures.append(Figure("quality", f"duckduckgo {metric} (all)", "share",
                              [second["deskbell"]["all"][metric]], "plain Whoosh OR",
                              [second["plain whoosh or"]["all"][metric]],
                              lower_is_better=False))
    return figures


def _tickets(quick: bool) -> list[Figure]:
    sizes = [1000] if quick else [1000, 10_000, 100_000]
    rows = [bench_tickets.run(size, 10 if quick else 25) for size in sizes]
    figures = [Figure("tickets", f"store add p50, {r['stored'] // 1000}k stored", "ms",
                      [r["ticketstore_ms"]], "TinyDB insert", [r["tinydb_ms"]]) for r in rows]
    return figures + bench_tickets_http.run(sizes, 1 if quick else 3, 50 if quick else 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (about 3 minutes)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma list of {PARTS}")
    args = parser.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    figures: list[Figure] = []
    for part in parts:
        print(f"== {part}", flush=True)
        figures += _run_part(part, args.quick)
    print()
    print_table(figures)
    _write(figures, args.quick, time.perf_counter() - started)


def _run_part(part: str, quick: bool) -> list[Figure]:
    repeats = 2 if quick else 3
    if part == "search":
        sizes: list[int | None] = [None, 10_000] if quick else [None, 10_000, 50_000]
        return bench_search.run(sizes, repeats, 3.0 if quick else 8.0)
    if part == "reindex":
        return bench_reindex.run([1000] if quick else [1000, 10_000], repeats)
    if part == "tickets":
        return _tickets(quick)
    if part == "widget":
        return bench_widget.run(repeats)
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
