"""Ticket creation cost as the store grows: the JSON ticket store vs TinyDB's JSONStorage.

Run:  .venv/bin/python benchmarks/bench_tickets.py [--sizes 1000,10000,100000] [--repeat 25]

For each size the benchmark builds both stores directly on disk (partitions and index shards
for TicketStore, one JSON file for TinyDB — the same documents), then times creating tickets:
`TicketStore.add` (locked, fsynced, atomically replaced, backup kept) and `TinyDB.insert` with
the default JSONStorage (no lock, no fsync), and one cold scan of every ticket as the admin
inbox does it. It prints medians and writes
benchmarks/results/tickets.json.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tinydb import TinyDB
from tinydb.storages import JSONStorage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from widget_server.schemas import NEW_TICKET  # noqa: E402
from widget_server.tickets import JSONTicketStore, new_ticket  # noqa: E402

PARTITION_BYTES = 128 * 1024  # TicketStore's default
WARMUP = 3


def document(i: int) -> dict:
    fields = NEW_TICKET.validate({
        "name": f"Visitor {i}", "email": f"visitor{i}@example.com",
        "subject": f"Cannot reset my password (case {i})",
        "message": "I tried the reset link twice and it says expired. " * 6,
        "page_url": "https://shop.example.com/account/login",
        "trail": {
            "session": "s_" + hashlib.sha256(str(i).encode()).hexdigest()[:22],
            "searches": [{"q": "reset password", "results": 3, "at": "2026-11-23T10:00:00+00:00"}],
            "articles": [{"slug": "reset-password", "title": "Reset your password",
                          "source": "search", "at": "2026-11-23T10:00:05+00:00"}],
            "votes": [{"slug": "reset-password", "helpful": False,
                       "at": "2026-11-23T10:00:30+00:00"}],
        },
    })
    return new_ticket(fields, "Account")[0]


def partitions(docs: list[dict]) -> list[list[dict]]:
    """Chunks of about PARTITION_BYTES of JSON, as TicketStore fills them."""
    chunks: list[list[dict]] = [[]]
    size = 0
    for d in docs:
        if size >= PARTITION_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(d)
        size += len(json.dumps(d)) + 8
    return chunks


def build_ticket_store(root: Path, docs: list[dict]) -> None:
    tickets = root / "tickets"
    (tickets / "index").mkdir(parents=True)
    shards: dict[str, dict[str, int]] = {}
    for number, chunk in enumerate(partitions(docs), start=1):
        table = {str(i + 1): d for i, d in enumerate(chunk)}
        (tickets / f"p{number:06d}.json").write_text(json.dumps({"_default": table}))
        for d in chunk:
            shard = hashlib.sha256(d["reference"].encode()).hexdigest()[:2]
            shards.setdefault(shard, {})[d["reference"]] = number
    for shard, refs in shards.items():
        (tickets / "index" / f"{shard}.json").write_text(json.dumps({"refs": refs}))


def build_tinydb(path: Path, docs: list[dict]) -> None:
    path.write_text(json.dumps({"_default": {str(i + 1): d for i, d in enumerate(docs)}}))


def time_calls(fn, count: int) -> float:
    for _ in range(WARMUP):  # first calls pay for imports and a cold page cache
        fn()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def without_fsync(fn: Callable[[], float]) -> float:
    """Run fn with fsync as a no-op: isolates the layout's cost from the disk's flush latency,
    which on a shared machine varies far more than anything the store size changes."""
    real = os.fsync
    os.fsync = lambda fd: None
    try:
        return fn()
    finally:
        os.fsync = real


def run(size: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        root = Path(tmp)
        docs = [document(i) for i in range(size)]
        build_ticket_store(root / "deskbell", docs)
        build_tinydb(root / "tinydb.json", docs)
        # Timed code must not share the process with 100k live documents: the garbage
        # collector would walk them all and bill the store for it.
        del docs
        gc.collect()
        extra = [document(size + i) for i in range(2 * repeat + 2 * WARMUP)]
        store = JSONTicketStore(root / "deskbell")
        pending = iter(extra)
        ours = time_calls(lambda: store.add(next(pending)), repeat)
        layout = without_fsync(lambda: time_calls(lambda: store.add(next(pending)), repeat))
        store._cache.clear()  # the cold scan below must read from disk
        started = time.perf_counter()
        listed = len(list(JSONTicketStore(root / "deskbell").iter_summaries()))
        inbox = (time.perf_counter() - started) * 1000
        assert listed == size + len(extra)
        gc.collect()
        db = TinyDB(root / "tinydb.json", storage=JSONStorage)
        baseline_repeat = max(3, repeat // (1 + size // 10000))
        pending = iter(extra)
        theirs = time_calls(lambda: db.insert(next(pending)), baseline_repeat)
        db.close()
    return {"stored": size, "ticketstore_ms": round(ours, 2), "tinydb_ms": round(theirs, 2),
            "ticketstore_no_fsync_ms": round(layout, 2), "inbox_scan_ms": round(inbox, 1),
            "repeat": repeat, "baseline_repeat": baseline_repeat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    # 80 adds span more than one partition's fill cycle, so every fill level is in the median.
    parser.add_argument("--repeat", type=int, default=80)
    args = parser.parse_args()
    rows = [run(int(s), args.repeat) for s in args.sizes.split(",")]
    print(f"{'stored':>8} {'TicketStore.add':>16} {'same, no fsync':>15} "
          f"{'TinyDB insert':>14} {'inbox scan':>11}   (medians; scan is one cold pass)")
    for r in rows:
        print(f"{r['stored']:>8} {r['ticketstore_ms']:>13.2f} ms {r['ticketstore_no_fsync_ms']:>12.2f}"
              f" ms {r['tinydb_ms']:>11.2f} ms {r['inbox_scan_ms']:>8.0f} ms")
    for key in ("ticketstore_ms", "ticketstore_no_fsync_ms"):
        base = rows[0][key]
        print(f"{key} vs {rows[0]['stored']} stored: "
              + ", ".join(f"{r['stored']}: {r[key] / base:.2f}x" for r in rows))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "tickets.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
