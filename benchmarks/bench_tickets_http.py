"""Ticket creation through HTTP: POST /api/v1/tickets on a real uvicorn server.

The store is pre-filled directly on disk (bench_tickets.build_ticket_store) with 1k and (in
the full run) 10k and 100k tickets, then tickets are created one at a time by the load generator;
p50/p95 latency per size. Baseline in the same run: the fixed-JSON route on the same server.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.bench_tickets import build_ticket_store, document
from benchmarks.common import Figure, load, percentile, running_server
from benchmarks.corpus import ARDUINO, cache_root

TICKET = {"name": "Ada Visitor", "email": "ada@example.com", "subject": "Cannot upload a sketch",
          "message": "The upload fails with avrdude: stk500_recv() programmer is not responding.",
          "page_url": "https://shop.example.com/help", "elapsed_ms": 4000}


def _round(size: int, count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=cache_root()) as tmp:
        data_dir = Path(tmp)
        build_ticket_store(data_dir, [document(i) for i in range(size)])
        with running_server(data_dir, ARDUINO) as server:
            bodies = [{**TICKET, "subject": f"Cannot upload a sketch ({i})"} for i in range(count)]
            created = load(server.port, ["/api/v1/tickets"], method="POST", bodies=bodies,
                           max_requests=count, max_seconds=120)
            fixed = load(server.port, ["/bench/fixed"], max_requests=count, max_seconds=60)
        if created["errors"]:
            raise RuntimeError(f"ticket creation failed: {created['statuses']}")
        lat = created["latencies_ms"]
        return {"p50": percentile(lat, 50), "p95": percentile(lat, 95),
                "fixed_p50": percentile(fixed["latencies_ms"], 50)}


def run(sizes: list[int], repeats: int, count: int) -> list[Figure]:
    figures = []
    for size in sizes:
        rounds = [_round(size, count) for _ in range(repeats)]
        label = f"{size // 1000}k stored"
        figures.append(Figure("tickets", f"HTTP create p95, {label}", "ms",
                              [r["p95"] for r in rounds], "fixed JSON p50",
                              [r["fixed_p50"] for r in rounds], "≤ 25").check(25))
        figures.append(Figure("tickets", f"HTTP create p50, {label}", "ms", [r["p50"] for r in rounds]))
    return figures
