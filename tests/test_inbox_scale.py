"""The admin inbox over many stored tickets: a page reads only the partitions that hold its
tickets (each partition's summary gives the counts), answers exactly what a scan of every
ticket would, and is never stale after another process changed a ticket."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tinydb import Query, TinyDB

from benchmarks.common import DESKBELL
from widget_server.tickets import JSONTicketStore, SummaryQuery, new_ticket, set_status
from widget_server.tickets.files import AtomicJSONStorage
from widget_server.tickets.model import STATUSES
from widget_server.tickets.store import Summaries, summarize

STORED = 10_000
PER_PARTITION = 60  # about what a 128 KiB partition holds
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class CountingStore(JSONTicketStore):
    """The JSON store, noting every partition file it parses after opening."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.parsed: list[str] = []
        self.summaries_read = 0
        super().__init__(*args, **kwargs)
        self.parsed.clear()  # opening checks the newest partition

    def _read_keyed(self, path: Path) -> Any:
        cached = self._cache.get(path)
        key, data = super()._read_keyed(path)
        fresh = cached is None or cached[1] is not data  # parsed now, not from the cache
        if fresh and path.parent == self.root and path.name.startswith("p"):
            self.parsed.append(path.name)
        return key, data

    def _read_head(self, number: int) -> Any:
        self.summaries_read += 1
        return super()._read_head(number)


def ticket(i: int) -> dict[str, Any]:
    fields = {"name": f"Visitor {i}", "email": f"v{i}@example.com", "subject": f"Case {i}",
              "message": "The reset link says expired. " * 4, "page_url": "", "locale": "en",
              "trail": {"searches": [{"q": "reset", "results": 2}]}}
    doc, _ = new_ticket(fields)
    # Several processes add tickets at once, so neighbouring partitions overlap in time a
    # little, and two tickets may share an instant.
    at = (START + timedelta(seconds=i + (i * 7919) % 5 - 2)).isoformat()
    doc.update(status=STATUSES[i % len(STATUSES)], created_at=at, updated_at=at)
    return doc


def write_store(data_dir: Path, docs: list[dict[str, Any]], per_partition: int) -> None:
    """Partitions and index shards as the store lays them out, written in one go (10,000
    locked, fsynced adds would take a minute). Like a folder from before partitions had
    summaries: there are none yet."""
    root = data_dir / "tickets"
    (root / "index").mkdir(parents=True)
    shards: dict[str, dict[str, int]] = {}
    for number, start in enumerate(range(0, len(docs), per_partition), start=1):
        chunk = docs[start:start + per_partition]
        table = {str(k + 1): d for k, d in enumerate(chunk)}
        (root / f"p{number:06d}.json").write_text(json.dumps({"_default": table}))
        for d in chunk:
            shard = hashlib.sha256(d["reference"].encode()).hexdigest()[:2]
            shards.setdefault(shard, {})[d["reference"]] = number
    for shard, refs in shards.items():
        (root / "index" / f"{shard}.json").write_text(json.dumps({"refs": refs}))


def scanned(data_dir: Path, query: SummaryQuery) -> Summaries:
    """The page as a scan of every stored ticket answers it, read by a fresh store."""
    return summarize(JSONTicketStore(data_dir).iter_summaries(), query)


PAGES = [SummaryQuery(limit=200), SummaryQuery(newest_first=True, limit=200),
         SummaryQuery(status="closed", limit=200),
         SummaryQuery(status="new", newest_first=True, limit=200)]


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("inbox") / "data"
    write_store(data_dir, [ticket(i) for i in range(STORED)], PER_PARTITION)
    return data_dir


def test_the_first_page_of_10000_tickets_reads_only_the_partitions_it_shows(
        big_store: Path) -> None:
    partitions = -(-STORED // PER_PARTITION)
    upgraded = CountingStore(big_store)
    first = upgraded.summaries(PAGES[0])
    # No summaries yet: this once, every partition is read (the newest already when the store
    # opened) and summarized, and the summaries are kept.
    assert len(set(upgraded.parsed)) == partitions - 1
    assert len(list((big_store / "tickets" / "summary").glob("p*.json"))) == partitions
    assert first == scanned(big_store, PAGES[0])

    for query in PAGES:
        fresh = CountingStore(big_store)  # another process: nothing cached
        page = fresh.summaries(query)
        assert page == scanned(big_store, query), query
        assert page.total == STORED and len(page.items) == 200
        assert page.counts == dict.fromkeys(STATUSES, STORED // len(STATUSES))
        # Every partition's small summary, and only the partitions holding the page: about
        # 200/60 of them, or 200/12 for one status in five, plus a neighbour that overlaps.
        per_page = PER_PARTITION // len(STATUSES) if query.status else PER_PARTITION
        assert len(set(fresh.parsed)) <= -(-200 // per_page) + 1, (query, fresh.parsed)
        assert len(fresh.parsed) == len(set(fresh.parsed))  # none read twice
        assert fresh.summaries_read == partitions

    again = fresh.summaries(PAGES[0])  # the same process, later: nothing changed, no file read
    assert again == first and fresh.summaries_read == partitions


def test_a_text_search_still_finds_a_ticket_in_any_partition(big_store: Path) -> None:
    query = SummaryQuery(text="v4321@EXAMPLE.com")
    page = CountingStore(big_store).summaries(query)
    assert [row["subject"] for row in page.items] == ["Case 4321"]
    assert page == scanned(big_store, query)


def test_tickets_of_the_same_instant_are_listed_as_a_full_scan_lists_them(
        tmp_path: Path) -> None:
    """The page ends inside a run of equal times that other partitions share: every partition
    holding that instant is read, and ties keep the order of a scan of every ticket."""
    stamps = ["10", "10", "01", "10", "10", "10", "02", "10", "10", "10"]
    docs = [ticket(i) for i in range(len(stamps))]
    for doc, second in zip(docs, stamps, strict=True):
        doc["created_at"] = f"2026-02-01T09:00:{second}+00:00"
    write_store(tmp_path, docs, 2)
    for limit in range(1, len(docs) + 1):
        for newest in (False, True):
            query = SummaryQuery(newest_first=newest, limit=limit)
            assert JSONTicketStore(tmp_path).summaries(query) == scanned(tmp_path, query)


def add_tickets(data_dir: Path, count: int) -> list[str]:
    store = JSONTicketStore(data_dir, partition_size=10)
    return [store.add(ticket(i))["reference"] for i in range(count)]


def test_a_page_is_never_stale_after_another_process_changes_a_ticket(tmp_path: Path) -> None:
    data = tmp_path / "data"
    refs = add_tickets(data, 50)  # five partitions, each summary written by the store
    query = SummaryQuery(limit=10)
    reader = CountingStore(data, partition_size=10)  # the admin, in a server worker
    before = reader.summaries(query)
    assert before == scanned(data, query) and len(set(reader.parsed)) <= 2
    assert before.counts["solved"] == 10

    # Another store on the same folder: a ticket on the page and one far from it change,
    # and a new ticket arrives.
    writer = JSONTicketStore(data, partition_size=10)
    writer.update(refs[0], lambda t: set_status(t, "solved"))
    writer.update(refs[48], lambda t: set_status(t, "open"))
    writer.add(ticket(99))
    # Another process: the command line.
    done = subprocess.run([str(DESKBELL), "tickets", "status", refs[21], "closed",
                           "--data-dir", str(data)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    after = reader.summaries(query)
    assert after == scanned(data, query)
    assert after.total == 51 and after.items[0]["status"] == "solved"
    assert after.counts == scanned(data, query).counts != before.counts

    # An older Deskbell rewrites a partition without touching its summary: the stat it
    # records no longer matches, so the partition is read again, not trusted.
    with TinyDB(data / "tickets" / "p000001.json", storage=AtomicJSONStorage) as old:
        old.update({"status": "pending"}, Query().reference == refs[0])
    assert reader.summaries(query).items[0]["status"] == "pending"
    assert reader.summaries(query) == scanned(data, query)
    assert CountingStore(data).summaries(SummaryQuery(status="pending")).counts["pending"] == \
        scanned(data, query).counts["pending"]


def test_summaries_hold_counts_and_times_never_what_a_visitor_wrote(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_tickets(data, 12)
    JSONTicketStore(data).erase_email("v3@example.com")
    files = list((data / "tickets" / "summary").glob("p*.json"))
    assert len(files) == 2
    text = "".join(f.read_text() for f in files)
    assert "example.com" not in text and "Visitor" not in text and "Case" not in text
    assert sum(json.loads(f.read_text())["tickets"] for f in files) == 11
    assert JSONTicketStore(data).count() == 11
