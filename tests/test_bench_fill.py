"""The benchmarks' pre-filled JSON ticket store is the store the real one writes: a folder
filled in one pass holds the same files, byte for byte, as one written ticket by ticket
through JSONTicketStore.add, and the store opens it, reads it and keeps adding to it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from benchmarks.bench_tickets import build_ticket_store, document, link_copy, validated
from widget_server.schemas import NEW_TICKET
from widget_server.tickets import JSONTicketStore, SummaryQuery
from widget_server.tickets.store import summarize

STORED = 300
PARTITION_BYTES = 16 * 1024  # about ten tickets a partition: many partitions and .bak files


def _files(data_dir: Path) -> dict[str, bytes]:
    root = data_dir / "tickets"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def _without_stat(summary: bytes) -> dict[str, object]:
    head = json.loads(summary)
    del head["partition"]  # inode and mtime: the same only for the same file
    return head


def test_filled_store_is_what_the_store_writes(tmp_path: Path) -> None:
    docs = [document(i) for i in range(STORED)]
    written = tmp_path / "written"
    store = JSONTicketStore(written, partition_bytes=PARTITION_BYTES)
    for doc in copy.deepcopy(docs):
        store.add(doc)
    filled = tmp_path / "filled"
    assert build_ticket_store(filled, iter(docs), PARTITION_BYTES) == STORED

    ours, theirs = _files(filled), _files(written)
    assert sorted(ours) == sorted(theirs)
    assert sum(name.endswith(".json.bak") and name.startswith("p") for name in ours) > 20
    for name, content in theirs.items():
        if name.startswith("summary/"):
            assert _without_stat(ours[name]) == _without_stat(content), name
            stat = (filled / "tickets" / name.replace("summary/", "")).stat()
            assert json.loads(ours[name])["partition"] == [
                stat.st_ino, stat.st_mtime_ns, stat.st_size], name
        else:
            assert ours[name] == content, name


def test_store_reads_and_extends_a_filled_copy(tmp_path: Path) -> None:
    docs = [document(i) for i in range(STORED)]
    build_ticket_store(tmp_path / "master", iter(docs), PARTITION_BYTES)
    link_copy(tmp_path / "master", tmp_path / "copy")

    store = JSONTicketStore(tmp_path / "copy", partition_bytes=PARTITION_BYTES)
    assert store.count() == STORED
    assert [store.get(docs[i]["reference"]) for i in (0, 151, STORED - 1)] == [
        docs[0], docs[151], docs[STORED - 1]]
    query = SummaryQuery(limit=5)
    page = store.summaries(query)  # from the summaries, reading only the newest partitions
    assert page.total == STORED and page.counts["new"] == STORED
    assert page.items == summarize(store.iter_summaries(), query).items

    extra = store.add(document(STORED))
    assert store.get(extra["reference"]) == extra and store.count() == STORED + 1
    # The copy changed; the folder it was linked from did not.
    original = JSONTicketStore(tmp_path / "master", partition_bytes=PARTITION_BYTES)
    assert original.count() == STORED and original.get(extra["reference"]) is None


def test_fast_documents_are_validated_bodies() -> None:
    from benchmarks.bench_tickets import _raw

    for i in (0, 1, 7, 999, 123_456, 999_999):
        assert validated(i) == NEW_TICKET.validate(_raw(i))
