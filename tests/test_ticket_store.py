"""The ticket store keeps every acknowledged ticket: across processes, crashes and full disks."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from widget_server import durable
from widget_server.errors import Conflict, NotFound
from widget_server.ticket_storage import CorruptStore, StoreFull, StoreUnwritable
from widget_server.tickets import (
    TicketStore,
    clean_new_ticket,
    new_ticket,
    token_matches,
)

from .conftest import tmpfs

ROOT = Path(__file__).resolve().parents[1]


def make(store: TicketStore, email: str = "ana@example.com", subject: str = "Printer") -> tuple:
    fields = clean_new_ticket({"name": "Ana", "email": email, "subject": subject,
                               "message": "It jams.\nEvery time."})
    ticket, token = new_ticket(fields)
    return store.add(ticket), token


def test_a_ticket_survives_reopening_the_store(tmp_path: Path) -> None:
    ticket, token = make(TicketStore(tmp_path))
    again = TicketStore(tmp_path).get(ticket["reference"])
    assert again is not None and again["subject"] == "Printer"
    assert token_matches(again, token)
    assert token not in (tmp_path / "tickets" / "p000001.json").read_text()


def test_reference_is_public_and_unrelated_to_storage(tmp_path: Path) -> None:
    store = TicketStore(tmp_path)
    refs = [make(store)[0]["reference"] for _ in range(20)]
    assert len(set(refs)) == 20
    assert all(len(r) == 17 and r.startswith("DB-") for r in refs)


def test_new_tickets_fill_small_partitions(tmp_path: Path) -> None:
    store = TicketStore(tmp_path, partition_size=4)
    refs = [make(store)[0]["reference"] for _ in range(10)]
    parts = sorted(p.name for p in (tmp_path / "tickets").glob("p*.json"))
    assert parts == ["p000001.json", "p000002.json", "p000003.json"]
    assert [t["reference"] for t in store.iter_tickets()] == refs
    assert store.count() == 10


def test_every_write_keeps_the_previous_generation(tmp_path: Path) -> None:
    store = TicketStore(tmp_path)
    ticket, _ = make(store)
    store.set_status(ticket["reference"], "open")
    part = tmp_path / "tickets" / "p000001.json"
    old = json.loads(part.with_name("p000001.json.bak").read_text())
    assert [d["status"] for d in old["_default"].values()] == ["new"]
    assert [d["status"] for d in json.loads(part.read_text())["_default"].values()] == ["open"]


def test_a_corrupt_file_is_never_reset(tmp_path: Path) -> None:
    make(TicketStore(tmp_path))
    part = tmp_path / "tickets" / "p000001.json"
    part.write_text('{"_default": {"1": {"reference": "DB-')  # torn by some other tool
    with pytest.raises(CorruptStore) as caught:
        TicketStore(tmp_path)
    message = str(caught.value)
    assert str(part) in message and ".bak" in message
    assert part.read_text().startswith('{"_default": {"1": {"reference": "DB-')


def test_a_full_disk_leaves_stored_tickets_untouched(tmp_path: Path, monkeypatch) -> None:
    store = TicketStore(tmp_path)
    first, _ = make(store)
    part = tmp_path / "tickets" / "p000001.json"
    before = part.read_bytes()

    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(durable.os, "write", full)
    with pytest.raises(StoreFull, match="no space left"):
        make(store, subject="Second")
    with pytest.raises(StoreFull):
        store.reply(first["reference"], "agent", "Bo", "Hello")
    monkeypatch.undo()
    assert part.read_bytes() == before
    assert not [p for p in (tmp_path / "tickets").rglob("*.tmp")]
    assert [t["subject"] for t in TicketStore(tmp_path).iter_tickets()] == ["Printer"]


def test_a_read_only_data_dir_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    store = TicketStore(tmp_path)
    make(store)

    def read_only(*args: object, **kwargs: object) -> int:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(durable.os, "open", read_only)
    with pytest.raises(StoreUnwritable, match="Read-only file system"):
        make(store)
    monkeypatch.undo()
    assert TicketStore(tmp_path).count() == 1


def test_replies_statuses_and_ratings(tmp_path: Path) -> None:
    store = TicketStore(tmp_path)
    ref = make(store)[0]["reference"]
    ticket, _ = store.reply(ref, "agent", "Bo", "Try this")
    assert ticket["status"] == "pending" and ticket["first_reply_at"]
    ticket, _ = store.reply(ref, "note", "Bo", "internal")
    assert ticket["first_reply_at"] == ticket["thread"][1]["at"]
    with pytest.raises(Conflict):
        store.rate(ref, {"csat": 5, "ces": None, "nps": None, "comment": ""})
    store.set_status(ref, "solved")
    assert store.rate(ref, {"csat": 4, "ces": 2, "nps": None, "comment": ""})["resolution"] == 1
    with pytest.raises(Conflict):
        store.rate(ref, {"csat": 5, "ces": None, "nps": None, "comment": ""})
    store.reply(ref, "visitor", "Ana", "Broken again")
    assert store.get(ref)["status"] == "open"
    store.set_status(ref, "solved")
    assert store.rate(ref, {"csat": 5, "ces": None, "nps": None, "comment": ""})["resolution"] == 2
    store.set_status(ref, "closed")
    with pytest.raises(Conflict):
        store.reply(ref, "visitor", "Ana", "hello?")
    with pytest.raises(NotFound):
        store.set_status("DB-0000-0000-0000", "open")


def test_erase_removes_tickets_and_their_backups(tmp_path: Path) -> None:
    store = TicketStore(tmp_path, partition_size=3)
    for i in range(7):
        make(store, email="Gone@Example.com" if i % 2 else "stay@example.com", subject=f"S{i}")
    assert store.erase_email("gone@example.com") == 3
    assert store.count() == 4
    leftovers = [p for p in (tmp_path / "tickets").rglob("*") if p.is_file()]
    assert not any(b"gone@example.com" in p.read_bytes().lower() for p in leftovers)
    assert store.erase_email("gone@example.com") == 0


def _writer(data_dir: str, n: int, tag: str, out: multiprocessing.Queue) -> None:
    store = TicketStore(data_dir, partition_size=7)
    refs = []
    for i in range(n):
        refs.append(make(store, subject=f"{tag}-{i}")[0]["reference"])
    out.put(refs)


def test_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = ctx.Queue()
    workers = [ctx.Process(target=_writer, args=(str(tmp_path), 15, f"w{i}", queue))
               for i in range(4)]
    for w in workers:
        w.start()
    acknowledged = [ref for _ in workers for ref in queue.get(timeout=60)]
    for w in workers:
        w.join(timeout=60)
    stored = list(TicketStore(tmp_path).iter_tickets())
    assert sorted(t["reference"] for t in stored) == sorted(acknowledged)
    assert len(acknowledged) == 60
    assert sorted(t["subject"] for t in stored) == sorted(
        f"w{i}-{j}" for i in range(4) for j in range(15))


WRITER = """
import sys
from widget_server.tickets import TicketStore, clean_new_ticket, new_ticket
store = TicketStore(sys.argv[1], partition_size=5)
for i in range(100000):
    fields = clean_new_ticket({"name": "K", "email": "k@example.com", "subject": f"n{i}",
                               "message": "x" * 2000})
    t, _ = new_ticket(fields)
    store.add(t)
    print(t["reference"], flush=True)
"""


@pytest.mark.parametrize("round_", range(3))
def test_kill_9_mid_write_keeps_every_acknowledged_ticket(tmp_path: Path, round_: int) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    acknowledged = []
    assert proc.stdout is not None
    for _ in range(8 + 9 * round_):
        acknowledged.append(proc.stdout.readline().strip())
    time.sleep(0.01 * round_)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    acknowledged += [line.strip() for line in proc.stdout if line.strip()]
    store = TicketStore(tmp_path)
    stored = {t["reference"] for t in store.iter_tickets()}
    assert set(acknowledged) <= stored
    assert all(store.get(ref) is not None for ref in acknowledged)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "tiny", "256k") as mount_point:
        yield mount_point


def test_a_really_full_disk_keeps_every_acknowledged_ticket(tiny_disk: Path) -> None:
    store = TicketStore(tiny_disk, partition_size=1000)
    acknowledged = []
    with pytest.raises(StoreFull):
        for i in range(500):
            fields = clean_new_ticket({"name": "F", "email": "f@example.com",
                                       "subject": f"full-{i}", "message": "y" * 4000})
            acknowledged.append(store.add(new_ticket(fields)[0])["reference"])
    assert len(acknowledged) > 3
    reopened = TicketStore(tiny_disk, partition_size=1000)
    assert [t["reference"] for t in reopened.iter_tickets()] == acknowledged
    assert not list(tiny_disk.rglob("*.tmp"))


def test_a_really_read_only_disk_is_a_clear_error(tiny_disk: Path) -> None:
    make(TicketStore(tiny_disk))
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    with pytest.raises(StoreUnwritable, match="Read-only file system"):
        make(TicketStore(tiny_disk))
    assert TicketStore(tiny_disk).count() == 1
