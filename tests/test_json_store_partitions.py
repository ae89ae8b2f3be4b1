"""The JSON ticket store finds the partition a new ticket goes to without listing its folder
(at 1M tickets the folder holds some 24,000 files), and still finds the right one when other
processes add partitions or the folder is restored from a backup under a running server."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from widget_server.schemas import NEW_TICKET
from widget_server.tickets import JSONTicketStore, json_store, new_ticket


def add(store: JSONTicketStore, subject: str) -> str:
    fields = NEW_TICKET.validate({"name": "Ana", "email": "ana@example.com", "subject": subject,
                                  "message": "It jams."})
    return str(store.add(new_ticket(fields)[0])["reference"])


def partitions(data_dir: Path) -> dict[str, int]:
    """Partition file name -> tickets in it, read by a store opened afresh."""
    fresh = JSONTicketStore(data_dir)
    return {f"p{n:06d}": len(fresh._docs(n)) for n in fresh._partitions()}


def test_adds_do_not_list_the_ticket_folder(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    store = JSONTicketStore(tmp_path, partition_size=2)
    add(store, "first")
    listings: list[str] = []
    real = os.listdir

    def listdir(path: str | os.PathLike[str]) -> list[str]:
        listings.append(str(path))
        return real(path)

    monkeypatch.setattr(json_store.os, "listdir", listdir)  # counts, then lists for real
    refs = [add(store, f"S{i}") for i in range(7)]
    assert listings == []
    monkeypatch.undo()
    assert partitions(tmp_path) == {"p000001": 2, "p000002": 2, "p000003": 2, "p000004": 2}
    assert all(store.get(ref) for ref in refs)


def test_two_writers_take_turns_filling_the_same_partitions(tmp_path: Path) -> None:
    """Two workers of one server: each sees the partitions the other one started."""
    one = JSONTicketStore(tmp_path, partition_size=3)
    two = JSONTicketStore(tmp_path, partition_size=3)
    refs = [add(one if i % 2 else two, f"S{i}") for i in range(11)]
    assert partitions(tmp_path) == {"p000001": 3, "p000002": 3, "p000003": 3, "p000004": 2}
    assert all(one.get(ref) and two.get(ref) for ref in refs)


def test_a_folder_restored_under_a_running_store_gets_the_next_ticket_right(
        tmp_path: Path) -> None:
    store = JSONTicketStore(tmp_path / "data", partition_size=2)
    kept = [add(store, f"S{i}") for i in range(3)]
    shutil.copytree(tmp_path / "data" / "tickets", tmp_path / "backup")
    later = [add(store, f"L{i}") for i in range(6)]  # up to partition 5
    shutil.rmtree(tmp_path / "data" / "tickets")
    shutil.copytree(tmp_path / "backup", tmp_path / "data" / "tickets")

    ref = add(store, "after the restore")
    assert partitions(tmp_path / "data") == {"p000001": 2, "p000002": 2}
    fresh = JSONTicketStore(tmp_path / "data")
    assert all(fresh.get(r) for r in [*kept, ref])
    assert not any(fresh.get(r) for r in later)


def test_a_visitors_tickets_are_found_across_partitions_and_old_summaries(
        tmp_path: Path) -> None:
    """tickets_of skips partitions by the owner tags in their summaries: it must still find
    every ticket after updates, with summaries written before tags existed, and not after an
    erasure."""
    store = JSONTicketStore(tmp_path, partition_size=2)
    mine = []
    for i in range(9):
        ticket, _ = new_ticket(NEW_TICKET.validate({
            "name": "A", "email": "ana@example.com" if i % 3 == 0 else f"x{i}@example.com",
            "subject": f"s{i}", "message": "m"}))
        if i == 4:
            ticket["user_id"] = "u-4"
        store.add(ticket)
        if i % 3 == 0:
            mine.append(ticket["reference"])
    store.update(mine[1], lambda t: t.update(status="solved"))
    assert len(partitions(tmp_path)) >= 5
    found = [t["reference"] for t in store.tickets_of("ANA@example.com")]
    assert sorted(found) == sorted(mine)
    assert [t["status"] for t in store.tickets_of("ana@example.com")
            if t["reference"] == mine[1]] == ["solved"]
    # Summaries from before owner tags: derived again, same answer.
    for summary in (tmp_path / "tickets" / "summary").glob("*.json"):
        data = json.loads(summary.read_text())
        del data["owners"]
        summary.write_text(json.dumps(data))
    fresh = JSONTicketStore(tmp_path)
    assert sorted(t["reference"] for t in fresh.tickets_of("ana@example.com")) == sorted(mine)
    assert len(fresh.tickets_of("x4@example.com", "u-4")) == 1
    fresh.erase_email("ana@example.com")
    assert JSONTicketStore(tmp_path).tickets_of("ana@example.com") == []
