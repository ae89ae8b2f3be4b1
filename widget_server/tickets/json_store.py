"""JSONTicketStore: tickets as TinyDB-shaped JSON files under `<data_dir>/tickets/`, shared safely
by every process on the machine (the server's workers and the `deskbell` command).

Layout (all files written by files.AtomicJSONStorage; this layout is the on-disk format):

    p000001.json …   partitions of about `partition_bytes` (128 KiB, some 60 tickets); new
                     tickets go to the newest one, so a write costs the same at 1,000 or
                     100,000 tickets; a full partition is only rewritten to change a ticket
    index/ab.json    256 small shards mapping reference -> partition number
    .lock            one filelock held across every read-modify-write, by every process

A ticket is written in two steps under the lock: its index entry first, then the ticket.
A crash between them leaves an index entry that points at nothing, which reads as "not
found" — and that ticket was never acknowledged. Readers take no lock: every file is
swapped in whole, so they always see a complete generation.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout
from tinydb import Query, TinyDB

from ..errors import NotFound, StorageUnavailable
from .files import AtomicJSONStorage, read_json, storage_error, write_json_atomic
from .model import SUMMARY_FIELDS, Ticket, new_reference
from .store import Summaries, Summary, SummaryQuery, summarize

T = TypeVar("T")
_PARTITION = re.compile(r"^p(\d{6})\.json$")
_TABLE = "_default"
CACHE_FILES = 512  # parsed files kept per process: all 256 index shards plus recent partitions


class JSONTicketStore:
    """Tickets on disk, safe for any number of processes (see module docstring)."""

    def __init__(self, data_dir: str | Path, *, partition_bytes: int = 128 * 1024,
                 partition_size: int | None = None, lock_timeout: float = 30.0) -> None:
        self.root = Path(data_dir) / "tickets"
        self.partition_bytes = partition_bytes
        self.partition_size = partition_size  # a ticket-count cap too (tests use tiny ones)
        try:
            (self.root / "index").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(self.root, exc) from exc
        self._lock = FileLock(str(self.root / ".lock"), timeout=lock_timeout)
        self._cache: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}
        self.check()

    # -- files

    def check(self) -> None:
        """Parse every index shard and the newest partition; CorruptStore names a bad file."""
        for shard in sorted((self.root / "index").glob("*.json")):
            self._read(shard)
        numbers = self._partitions()
        if numbers:
            self._read(self._partition_path(numbers[-1]))

    def _partition_path(self, number: int) -> Path:
        return self.root / f"p{number:06d}.json"

    def _shard_path(self, reference: str) -> Path:
        digest = hashlib.sha256(reference.encode("ascii", "replace")).hexdigest()
        return self.root / "index" / f"{digest[:2]}.json"

    def _partitions(self) -> list[int]:
        names = (_PARTITION.match(n) for n in os.listdir(self.root))
        return sorted(int(m.group(1)) for m in names if m)

    def _read(self, path: Path) -> dict[str, Any]:
        """The parsed file, cached until it is replaced (every write makes a new inode)."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return {}
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._cache.pop(path, None)
        data = cached[1] if cached and cached[0] == key else read_json(path) or {}
        self._cache[path] = (key, data)  # re-inserted last: the dict's order is recency
        if len(self._cache) > CACHE_FILES:
            del self._cache[next(iter(self._cache))]
        return data

    def _db(self, number: int) -> TinyDB:
        return TinyDB(self._partition_path(number), storage=AtomicJSONStorage)

    def _acquire(self) -> None:
        try:
            self._lock.acquire()
        except Timeout:
            raise StorageUnavailable("the ticket store is busy; try again shortly") from None
        except OSError as exc:
            raise storage_error(self.root / ".lock", exc) from exc

    # -- reads (no lock: files are swapped in whole)

    def _locate(self, reference: str) -> int | None:
        refs = self._read(self._shard_path(reference)).get("refs", {})
        number = refs.get(reference)
        return number if isinstance(number, int) else None

    def _docs(self, number: int) -> dict[str, Ticket]:
        docs: dict[str, Ticket] = self._read(self._partition_path(number)).get(_TABLE, {})
        return docs

    def get(self, reference: str) -> Ticket | None:
        """A copy of the ticket, or None when there is no such (acknowledged) ticket."""
        if not isinstance(reference, str) or len(reference) > 40:
            return None
        number = self._locate(reference)
        if number is None:
            return None
        for doc in self._docs(number).values():
            if doc.get("reference") == reference:
                return copy.deepcopy(doc)
        return None

    def iter_tickets(self) -> Iterator[Ticket]:
        """Every ticket, oldest partition first (copies)."""
        for number in self._partitions():
            for doc in list(self._docs(number).values()):
                yield copy.deepcopy(doc)

    def iter_summaries(self) -> Iterator[Summary]:
        """The fields an inbox lists and searches, without copying whole tickets and trails."""
        for number in self._partitions():
            for doc in list(self._docs(number).values()):
                yield {k: doc.get(k) for k in SUMMARY_FIELDS}

    def summaries(self, query: SummaryQuery) -> Summaries:
        return summarize(self.iter_summaries(), query)

    def count(self) -> int:
        return sum(len(self._docs(n)) for n in self._partitions())

    # -- writes (locked, re-read after acquiring)

    def add(self, ticket: Ticket) -> Ticket:
        """Store a new ticket durably; returns once it is on disk."""
        self._acquire()
        try:
            while self._locate(ticket["reference"]) is not None:
                ticket["reference"] = new_reference()  # 2^60 space: practically never loops
            number = self._head_for_insert()
            self._set_index({ticket["reference"]: number})
            self._db(number).insert(ticket)
        finally:
            self._lock.release()
        return ticket

    def _head_for_insert(self) -> int:
        numbers = self._partitions()
        head = numbers[-1] if numbers else 1
        path = self._partition_path(head)
        # The size is one stat; counting tickets would mean parsing the partition once more.
        full = path.exists() and path.stat().st_size >= self.partition_bytes
        if full or (self.partition_size and len(self._docs(head)) >= self.partition_size):
            head += 1
        return head

    def _set_index(self, changes: dict[str, int | None]) -> None:
        by_shard: dict[Path, dict[str, int | None]] = {}
        for reference, number in changes.items():
            by_shard.setdefault(self._shard_path(reference), {})[reference] = number
        for shard, entries in by_shard.items():
            refs = dict(self._read(shard).get("refs", {}))
            for reference, number in entries.items():
                if number is None:
                    refs.pop(reference, None)
                else:
                    refs[reference] = number
            write_json_atomic(shard, {"refs": refs})

    def update(self, reference: str, change: Callable[[Ticket], T]) -> tuple[Ticket, T]:
        """Apply `change` to the ticket under the lock and store it; NotFound if it is absent."""
        self._acquire()
        try:
            number = self._locate(reference)
            if number is None:
                raise NotFound("no such ticket")
            db = self._db(number)
            doc = db.get(Query().reference == reference)
            if doc is None:
                raise NotFound("no such ticket")
            ticket = copy.deepcopy(dict(doc))
            result = change(ticket)
            db.table(_TABLE).upsert(ticket, Query().reference == reference)
        finally:
            self._lock.release()
        return ticket, result

    def erase_email(self, email: str) -> int:
        """Remove every ticket of `email` (case-insensitive), backups included; returns how many.

        Partitions are rewritten first, then their `.bak` is pointed at the new generation so
        the erased text does not linger; index entries go last. Re-running after a crash
        finishes the job.
        """
        wanted = email.strip().casefold()
        removed: dict[str, int | None] = {}
        self._acquire()
        try:
            for number in self._partitions():
                refs = [d["reference"] for d in self._docs(number).values()
                        if str(d.get("email", "")).casefold() == wanted]
                if refs:
                    self._db(number).remove(Query().reference.one_of(refs))
                    self._drop_backup(self._partition_path(number))
                    removed.update(dict.fromkeys(refs))
            self._set_index(removed)
            for shard in {self._shard_path(r) for r in removed}:
                self._drop_backup(shard)
        finally:
            self._lock.release()
        return len(removed)

    def _drop_backup(self, path: Path) -> None:
        backup = path.with_name(path.name + ".bak")
        try:
            staging = path.with_name(path.name + ".bak.tmp")
            staging.unlink(missing_ok=True)
            os.link(path, staging)
            os.replace(staging, backup)
        except OSError as exc:
            raise storage_error(backup, exc) from exc


__all__ = ["JSONTicketStore"]
