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
import functools
import gc
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tinydb import TinyDB
from tinydb.storages import JSONStorage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from widget_server.schemas import NEW_TICKET  # noqa: E402
from widget_server.tickets import JSONTicketStore, new_ticket  # noqa: E402
from widget_server.tickets.json_store import owner_tags  # noqa: E402
from widget_server.tickets.store import SummaryQuery  # noqa: E402

PARTITION_BYTES = 128 * 1024  # TicketStore's default
WARMUP = 3


def _raw(i: int) -> dict:
    return {
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
    }


@functools.cache
def _validated_template() -> dict:
    return NEW_TICKET.validate(_raw(0))


def validated(i: int) -> dict:
    """NEW_TICKET.validate(_raw(i)) without validating again what every i shares: the four
    strings that differ pass validation unchanged (tests/test_bench_fill.py checks it), and
    validating whole bodies was 80% of a 1M-ticket fill."""
    raw = _raw(i)
    fields = {**_validated_template(), **{k: raw[k] for k in ("name", "email", "subject")}}
    fields["trail"] = {**fields["trail"], "session": raw["trail"]["session"]}
    return fields


def document(i: int) -> dict:
    """Stored ticket number i (a fresh reference, token hash and creation time each call)."""
    return new_ticket(validated(i), "Account")[0]


def _compact(data: object) -> bytes:
    """JSON as files.write_json_atomic writes it."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _write(path: Path, payload: bytes) -> None:
    """A new file with the store's permissions (0600), not fsynced: a benchmark's fill."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _table(pieces: list[bytes]) -> bytes:
    """A partition file: TinyDB's one table, documents `"id":{...}` in id order."""
    return b'{"_default":{' + b",".join(pieces) + b"}}"


def build_ticket_store(root: Path, docs: Iterable[dict],
                       partition_bytes: int = PARTITION_BYTES) -> int:
    """Write `docs` as `root/tickets`, byte for byte what JSONTicketStore(root).add(doc), one
    at a time, would leave there: its files are replaced whole, never edited, so each file's
    last generation and its `.bak` (the one before) are all that remains of the adds. So:
    partitions started when the newest one's file reaches `partition_bytes`, TinyDB's
    document ids, index shards in insertion order, the `.bak` of every file written more
    than once, and each partition's summary keyed to the partition file's own stat.

    Streams `docs` (a generator keeps 1M tickets out of memory; only references are held).
    Only times differ from the store's: the files carry the fill's mtimes and nothing is
    fsynced. Returns the number of tickets written."""
    tickets = root / "tickets"
    (tickets / "index").mkdir(parents=True)
    (tickets / "summary").mkdir()
    shards: dict[str, dict[str, int]] = {}
    number, written, size = 1, 0, 0
    pieces: list[bytes] = []
    counts: dict[str, int] = {}
    stamps: list[str] = []
    owners: set[str] = set()

    def flush() -> None:
        path = tickets / f"p{number:06d}.json"
        if len(pieces) > 1:
            _write(path.with_name(path.name + ".bak"), _table(pieces[:-1]))
        _write(path, _table(pieces))
        st = path.stat()
        head = {"partition": [st.st_ino, st.st_mtime_ns, st.st_size], "tickets": len(pieces),
                "counts": counts, "first": min(stamps), "last": max(stamps),
                "owners": sorted(owners)}
        _write(tickets / "summary" / path.name, json.dumps(head, separators=(",", ":")).encode())

    for doc in docs:
        if pieces and size >= partition_bytes:  # as JSONTicketStore._head_for_insert decides
            flush()
            number, pieces, counts, stamps, owners = number + 1, [], {}, [], set()
        pieces.append(f'"{len(pieces) + 1}":'.encode() + _compact(doc))
        size = (size + 1 if len(pieces) > 1 else len(_table([]))) + len(pieces[-1])
        counts[doc["status"]] = counts.get(doc["status"], 0) + 1
        stamps.append(str(doc.get("created_at") or ""))
        owners |= owner_tags(doc)
        reference = doc["reference"]
        digest = hashlib.sha256(reference.encode("ascii", "replace")).hexdigest()
        shards.setdefault(digest[:2], {})[reference] = number
        written += 1
    if pieces:
        flush()
    for shard, refs in shards.items():
        path = tickets / "index" / f"{shard}.json"
        if len(refs) > 1:
            before = dict(list(refs.items())[:-1])
            _write(path.with_name(path.name + ".bak"), _compact({"refs": before}))
        _write(path, _compact({"refs": refs}))
    return written


def link_copy(source: Path, target: Path) -> None:
    """A copy of the folder `source` (a store build_ticket_store made) at `target`, as hard
    links. The JSON store only ever replaces its files whole (written aside, renamed over),
    so the copy changes independently of the original; and unlike a byte copy it keeps each
    partition's inode, which the partition's summary is keyed to (new inodes would make the
    store derive every summary again). Seconds for 1M tickets, where a refill takes minutes."""
    for folder, _, names in os.walk(source):
        here = target / Path(folder).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        for name in names:
            if name != ".lock" and not name.endswith(".tmp"):
                os.link(Path(folder) / name, here / name)


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
        # A signed visitor's "My requests" (tickets_of reads every ticket of a JSON store),
        # beside the inbox's first page in the same warm store.
        warm = JSONTicketStore(root / "deskbell")
        started = time.perf_counter()  # cold: a fresh process reads every partition summary
        warm.tickets_of("visitor7@example.com")
        mine_cold = (time.perf_counter() - started) * 1000
        mine = time_calls(lambda: warm.tickets_of("visitor7@example.com"), 5)
        first_page = time_calls(lambda: warm.summaries(SummaryQuery(limit=200)), 5)
        assert [t["email"] for t in warm.tickets_of("Visitor7@Example.com")] == [
            "visitor7@example.com"]
        warm.close()
        gc.collect()
        db = TinyDB(root / "tinydb.json", storage=JSONStorage)
        baseline_repeat = max(3, repeat // (1 + size // 10000))
        pending = iter(extra)
        theirs = time_calls(lambda: db.insert(next(pending)), baseline_repeat)
        db.close()
    return {"stored": size, "ticketstore_ms": round(ours, 2), "tinydb_ms": round(theirs, 2),
            "ticketstore_no_fsync_ms": round(layout, 2), "inbox_scan_ms": round(inbox, 1),
            "tickets_of_ms": round(mine, 1), "tickets_of_cold_ms": round(mine_cold, 1),
            "inbox_page_ms": round(first_page, 1),
            "repeat": repeat, "baseline_repeat": baseline_repeat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    # 80 adds span more than one partition's fill cycle, so every fill level is in the median.
    parser.add_argument("--repeat", type=int, default=80)
    args = parser.parse_args()
    rows = [run(int(s), args.repeat) for s in args.sizes.split(",")]
    print(f"{'stored':>8} {'TicketStore.add':>16} {'same, no fsync':>15} "
          f"{'TinyDB insert':>14} {'inbox scan':>11} {'tickets_of':>11} {'cold':>9}"
          f" {'inbox page':>11}"
          "   (medians; scan is one cold pass)")
    for r in rows:
        print(f"{r['stored']:>8} {r['ticketstore_ms']:>13.2f} ms {r['ticketstore_no_fsync_ms']:>12.2f}"
              f" ms {r['tinydb_ms']:>11.2f} ms {r['inbox_scan_ms']:>8.0f} ms"
              f" {r['tickets_of_ms']:>8.1f} ms {r['tickets_of_cold_ms']:>6.1f} ms"
              f" {r['inbox_page_ms']:>8.1f} ms")
    for key in ("ticketstore_ms", "ticketstore_no_fsync_ms"):
        base = rows[0][key]
        print(f"{key} vs {rows[0]['stored']} stored: "
              + ", ".join(f"{r['stored']}: {r[key] / base:.2f}x" for r in rows))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "tickets.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
