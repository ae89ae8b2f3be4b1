"""Event recording and insight computation cost on this machine.

Run:  .venv/bin/python benchmarks/bench_events.py [--events 100000] [--tickets 5000]

1. Appends: `EventStore.append` (one event, one write + fsync) from 1 and from 8 threads, and
   `append_many` with the widget's largest batch (20 events, one write + one fsync).
2. Recording searches (events/recorder.py): `SearchRecorder.record` per search request, as
   the API calls it on the request path (visitors typing queries letter by letter, so most
   calls fold into a pending search), and writing N settled searches in one batch, against
   the widget's former path of one `append` (one fsync) per settled search.
3. Reading and computing: `iter_events` over N events spread across 30 day files, then the
   whole `build_report` (metrics, content gaps, spikes) over them and M tickets, as
   `deskbell report` and /admin/insights do.
Prints medians and writes benchmarks/results/events.json.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write_result  # noqa: E402
from widget_server.events import EventStore, NewEvent  # noqa: E402
from widget_server.insights import build_report  # noqa: E402

QUERIES = ["refund", "refunds", "refnd", "reset password", "shipping", "dark mode", "invoice",
           "cancel order", "login error", "export pdf", "wordpress", "api key"]


def sid(rng: random.Random) -> str:
    return "s_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(22))


def bench_appends(root: Path, count: int) -> dict[str, float]:
    store = EventStore(root / "append")
    one = []
    for i in range(count):
        start = time.perf_counter()
        store.append(None, "search", {"query": f"q{i}", "results": 1})
        one.append(time.perf_counter() - start)
    batch = [NewEvent(None, "search", {"query": f"b{i}", "results": 1}) for i in range(20)]
    many = []
    for _ in range(count // 4):
        start = time.perf_counter()
        store.append_many(batch)
        many.append(time.perf_counter() - start)

    def worker() -> None:
        for i in range(count // 8):
            store.append(None, "search", {"query": f"t{i}", "results": 1})

    threads = [threading.Thread(target=worker) for _ in range(8)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    threaded = time.perf_counter() - start
    return {
        "append_ms_median": 1000 * statistics.median(one),
        "append_many_20_ms_median": 1000 * statistics.median(many),
        "append_8_threads_events_per_s": (count // 8 * 8) / threaded,
    }


def bench_recording(root: Path, count: int) -> dict[str, float]:
    from widget_server.events.recorder import SearchRecorder
    from widget_server.queries import normalize_query

    rng = random.Random(3)
    store = EventStore(root / "record")
    recorder = SearchRecorder(store, settle=3600, background=False)
    calls = []
    typed = 0
    while typed < count:
        session, query = sid(rng), rng.choice(QUERIES)
        for end in range(1, len(query) + 1):
            q = normalize_query(query[:end])
            start = time.perf_counter()
            recorder.record(session, q, 3, confidence=0.5, answer="", locale="en")
            calls.append(time.perf_counter() - start)
        typed += 1
    pending = recorder.pending()
    start = time.perf_counter()
    written = recorder.flush(everything=True)
    batch = time.perf_counter() - start
    single = EventStore(root / "single")
    start = time.perf_counter()
    for i in range(written):
        single.append(sid(rng), "search", {"query": f"q{i}", "results": 1})
    one_by_one = time.perf_counter() - start
    assert written == pending == count
    return {
        "record_us_median": 1e6 * statistics.median(calls),
        "record_us_p99": 1e6 * sorted(calls)[int(len(calls) * 0.99)],
        "requests_per_search": len(calls) / count,
        "settled_searches_written": written,
        "batch_write_ms": 1000 * batch,
        "one_append_each_ms (former widget path)": 1000 * one_by_one,
    }


def synth(root: Path, n_events: int, n_tickets: int, until: datetime) -> list[dict]:
    rng = random.Random(1)
    store = EventStore(root / "read", retention_days=3650)
    batch: list[NewEvent] = []
    tickets = []
    while len(batch) < n_events:
        s, at = sid(rng), until - timedelta(seconds=rng.randrange(35 * 86400))
        q = rng.choice(QUERIES)
        batch.append(NewEvent(s, "search", {"query": q, "results": rng.choice([0, 3, 5])}, at))
        batch.append(NewEvent(s, "article_view", {"slug": q.replace(" ", "-"),
                                                  "source": "search"}, at))
        if len(tickets) < n_tickets and rng.random() < 0.2:
            ref = f"DB-{len(tickets):06d}"
            batch.append(NewEvent(s, "ticket_created", {"reference": ref, "category": q}, at))
            tickets.append({"reference": ref, "subject": q, "category": q,
                            "created_at": at.isoformat(), "first_reply_at":
                            (at + timedelta(hours=2)).isoformat(), "solved_at": None,
                            "ratings": []})
    store.append_many(batch)
    return tickets


def bench_report(root: Path, n_events: int, n_tickets: int) -> dict[str, float]:
    until = datetime(2026, 3, 29, tzinfo=UTC)
    tickets = synth(root, n_events, n_tickets, until)
    store = EventStore(root / "read", retention_days=3650)
    start = time.perf_counter()
    events = list(store.iter_events(until - timedelta(days=35), until))
    read = time.perf_counter() - start
    start = time.perf_counter()
    build_report(tickets, events, until - timedelta(days=30), until, ZoneInfo("UTC"))
    compute = time.perf_counter() - start
    return {"events_read": len(events), "tickets": len(tickets), "read_s": read,
            "report_s": compute}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--tickets", type=int, default=5_000)
    parser.add_argument("--appends", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {**bench_appends(Path(tmp), args.appends),
                  **bench_recording(Path(tmp), args.appends),
                  **bench_report(Path(tmp), args.events, args.tickets)}
    for key, value in result.items():
        print(f"{key:40} {value:12.2f}")
    write_result("events", result)


if __name__ == "__main__":
    main()
