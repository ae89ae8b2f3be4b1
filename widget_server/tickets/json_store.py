"""JSONTicketStore: tickets as TinyDB-shaped JSON files under `<data_dir>/tickets/`, shared safely
by every process on the machine (the server's workers and the `deskbell` command).

Layout (all files written by files.AtomicJSONStorage; this layout is the on-disk format):

    p000001.json …   partitions of about `partition_bytes` (128 KiB, some 60 tickets); new
                     tickets go to the newest one, so a write costs the same at 1,000 or
                     100,000 tickets; a full partition is only rewritten to change a ticket
    index/ab.json    256 small shards mapping reference -> partition number
    .lock            one filelock held across every read-modify-write, by every process
    summary/p000001.json …
                     derived, not part of the format: each partition's ticket count per
                     status, the range of its created_at and 16-bit tags of its tickets'
                     owners (for a signed visitor's list), with the stat (inode, mtime,
                     size) of the partition file it describes

A ticket is written in two steps under the lock: its index entry first, then the ticket.
A crash between them leaves an index entry that points at nothing, which reads as "not
found" — and that ticket was never acknowledged. Readers take no lock: every file is
swapped in whole, so they always see a complete generation.

The summaries let the admin inbox answer a page without reading every partition: the
counts come from the summaries, and only the partitions whose created_at range can hold a
ticket of the page are read (a text search still reads every ticket). A summary is trusted
only while the partition file still has the stat it records — the same key the parsed-file
cache trusts — so a partition changed by anything that did not also write its summary (an
older Deskbell, a crash between the two writes, a restored backup) is read and summarized
again, never shown stale. Writers replace a partition's summary right after the partition,
under the lock; a reader that had to summarize a partition itself stores the summary if it
can take the lock at once. Summaries hold no personal data and are not fsynced: one lost in
a power cut is derived again from its partition.

About 420 lines, over the usual 400, on purpose: partitions, index shards and summaries are
one on-disk format kept consistent under one lock and one parse cache; split into modules,
each would reach into the others' private state.
"""

from __future__ import annotations

import copy
import hashlib
import heapq
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout
from tinydb import Query, TinyDB

from .. import durable
from ..errors import NotFound, StorageUnavailable
from .files import AtomicJSONStorage, read_json, storage_error, write_json_atomic
from .model import STATUSES, SUMMARY_FIELDS, Ticket, new_reference
from .store import (
    OWNED_MAX,
    Summaries,
    Summary,
    SummaryQuery,
    newest_owned,
    project,
    summarize,
    touches,
)

T = TypeVar("T")
_PARTITION = re.compile(r"^p(\d{6})\.json$")
_TABLE = "_default"
CACHE_FILES = 512  # parsed files kept per process: all 256 index shards plus recent partitions
FileKey = tuple[int, int, int]  # inode, mtime in ns, size: a file replaced whole gets a new one
# A partition's summary: {"partition": [inode, mtime_ns, size], "tickets": n,
# "counts": {status: n}, "first": oldest created_at, "last": newest created_at,
# "owners": owner tags}.
Head = dict[str, Any]


def _key(path: Path) -> FileKey | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _stamp(ticket: Ticket) -> str:
    return str(ticket.get("created_at") or "")


def _owner_tag(kind: str, value: str) -> str:
    """16 bits of a hash of an owner (an email, casefolded, or a user_id): enough to skip the
    partitions a visitor has no ticket in, too little to tell who anyone is."""
    return hashlib.sha256(f"{kind}:{value}".encode("utf-8", "replace")).hexdigest()[:4]


def owner_tags(ticket: Ticket) -> set[str]:
    tags = {_owner_tag("e", str(ticket.get("email", "")).casefold())}
    if ticket.get("user_id") is not None:
        tags.add(_owner_tag("u", str(ticket["user_id"])))
    return tags


def _head_of(key: FileKey, docs: Iterable[Ticket]) -> Head:
    counts: dict[str, int] = {}
    stamps = []
    owners: set[str] = set()
    for doc in docs:
        counts[doc["status"]] = counts.get(doc["status"], 0) + 1
        stamps.append(_stamp(doc))
        owners |= owner_tags(doc)
    return {"partition": list(key), "tickets": len(stamps), "counts": counts,
            "first": min(stamps, default=""), "last": max(stamps, default=""),
            "owners": sorted(owners)}


def _valid_head(data: Any) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("partition"), list)
            and len(data["partition"]) == 3 and isinstance(data.get("tickets"), int)
            and isinstance(data.get("counts"), dict)
            and all(isinstance(n, int) for n in data["counts"].values())
            and isinstance(data.get("first"), str) and isinstance(data.get("last"), str)
            and isinstance(data.get("owners"), list))  # summaries older than owners: derived


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
        self._cache: dict[Path, tuple[FileKey, dict[str, Any]]] = {}
        self._heads: dict[int, Head] = {}  # partition number -> its summary (a few hundred bytes)
        self._newest = 0  # the newest partition number this process has seen (_newest_partition)
        self.check()

    # -- files

    def close(self) -> None:
        """Nothing is held open between operations."""

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
        return self._read_keyed(path)[1]

    def _read_keyed(self, path: Path) -> tuple[FileKey | None, dict[str, Any]]:
        """The parsed file and the stat key of the file that was parsed."""
        key = _key(path)
        if key is None:
            return None, {}
        cached = self._cache.pop(path, None)
        if cached and cached[0] == key:
            data = cached[1]
        else:
            data = read_json(path) or {}
            # Replaced between the stat and the read: the key must describe what was parsed.
            key = key if _key(path) == key else (0, 0, -1)
        self._cache[path] = (key, data)  # re-inserted last: the dict's order is recency
        if len(self._cache) > CACHE_FILES:
            del self._cache[next(iter(self._cache))]
        return key, data

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

    def tickets_touched(self, since: str, until: str,
                        fields: Sequence[str] | None = None) -> Iterator[Ticket]:
        """The tickets created or rated in [since, until), in iter_tickets order (copies, cut
        to `fields`); reads every partition (a ticket of any age may have been rated in range)."""
        for number in self._partitions():
            for doc in list(self._docs(number).values()):
                if touches(doc, since, until):
                    yield project(doc, fields)

    def iter_summaries(self) -> Iterator[Summary]:
        """The fields an inbox lists and searches, without copying whole tickets and trails."""
        for number in self._partitions():
            for doc in list(self._docs(number).values()):
                yield {k: doc.get(k) for k in SUMMARY_FIELDS}

    def summaries(self, query: SummaryQuery) -> Summaries:
        """One inbox page, exactly as `summarize` over every ticket would answer it, reading
        only the partitions that can hold a ticket of the page (see the module docstring)."""
        if query.text or query.assignee is not None:
            # Words may be anywhere, and partition summaries do not count assignees: a search
            # or an assignee filter reads every ticket.
            return summarize(self.iter_summaries(), query)
        heads = {n: head for n in self._partitions() if (head := self._head(n)) is not None}
        counts = dict.fromkeys(STATUSES, 0)
        for head in heads.values():
            for status, n in head["counts"].items():
                counts[status] = counts.get(status, 0) + n
        total = sum(head["tickets"] for head in heads.values())
        wanted = [n for n, head in heads.items() if query.limit > 0 and (
            head["counts"].get(query.status) if query.status else head["tickets"])]
        # Partitions in the page's order of their nearest ticket; stop at the first one whose
        # nearest ticket comes after the page's last (all later ones do too).
        newest = query.newest_first
        edge = "last" if newest else "first"
        wanted.sort(key=lambda n: heads[n][edge], reverse=newest)
        visited: list[int] = []
        stamps: list[str] = []
        pick = heapq.nlargest if newest else heapq.nsmallest
        for number in wanted:
            if len(stamps) >= query.limit:
                cutoff = pick(query.limit, stamps)[-1]
                if (heads[number][edge] < cutoff) if newest else (heads[number][edge] > cutoff):
                    break
            visited.append(number)
            stamps.extend(_stamp(d) for d in self._docs(number).values()
                          if not query.status or d["status"] == query.status)
        # In partition order, so tickets created at the same instant keep summarize's order.
        page = summarize(self._rows(sorted(visited)), query)
        matched = counts.get(query.status, 0) if query.status else total
        return Summaries(counts, total, matched, page.items)

    def _rows(self, numbers: Iterable[int]) -> Iterator[Summary]:
        for number in numbers:
            for doc in list(self._docs(number).values()):
                yield {k: doc.get(k) for k in SUMMARY_FIELDS}

    def count(self) -> int:
        return sum(head["tickets"] for n in self._partitions()
                   if (head := self._head(n)) is not None)

    # -- partition summaries (derived; see the module docstring)

    def _summary_path(self, number: int) -> Path:
        return self.root / "summary" / f"p{number:06d}.json"

    def _head(self, number: int, store: bool = True) -> Head | None:
        """The summary of the partition as it is now; None if there is no such partition.
        `store`: write a summary this reader had to derive (writers write their own)."""
        key = _key(self._partition_path(number))
        if key is None:
            return None
        head = self._heads.get(number)
        if head is not None and tuple(head["partition"]) == key:
            return head
        found = self._read_head(number)
        if _valid_head(found) and tuple(found["partition"]) == key:
            head = found
        else:
            parsed_key, data = self._read_keyed(self._partition_path(number))
            if parsed_key is None:
                return None
            head = _head_of(parsed_key, data.get(_TABLE, {}).values())
            if store:
                self._store_derived(number, head)
        self._heads[number] = head
        return head

    def _read_head(self, number: int) -> Any:
        try:
            return json.loads(self._summary_path(number).read_bytes())
        except (OSError, ValueError):  # missing, unreadable or torn: derived again instead
            return None

    def _store_derived(self, number: int, head: Head) -> None:
        """Keep a summary a reader derived, if the lock is free right now: readers never wait,
        and a partition replaced meanwhile keeps whatever summary its writer left."""
        try:
            self._lock.acquire(blocking=False)
        except (Timeout, OSError):
            return
        try:
            if _key(self._partition_path(number)) == tuple(head["partition"]):
                self._write_head(number, head)
        finally:
            self._lock.release()

    def _write_head(self, number: int, head: Head) -> None:
        """Replace the summary file whole; a failure only costs a later reader a derivation."""
        path = self._summary_path(number)
        try:
            path.parent.mkdir(exist_ok=True)
            durable.write_atomic(path, json.dumps(head, separators=(",", ":")),
                                 permissions=0o600, sync=False)
        except OSError:
            pass

    def _wrote(self, number: int, before: Head | None, *, gone: Iterable[str] = (),
               came: Iterable[Ticket] = ()) -> None:
        """After writing partition `number` under the lock: its summary is `before` (its
        summary just before the write) less the statuses `gone`, plus the tickets `came`."""
        path = self._partition_path(number)
        key = _key(path)
        if key is None:
            return
        counts = dict(before["counts"]) if before else {}
        stamps = [before["first"], before["last"]] if before and before["tickets"] else []
        tickets = before["tickets"] if before else 0
        owners = set(before["owners"]) if before else set()  # `gone` keeps its owner (update)
        for status in gone:
            counts[status] = counts.get(status, 0) - 1
            tickets -= 1
        for ticket in came:
            counts[ticket["status"]] = counts.get(ticket["status"], 0) + 1
            stamps.append(_stamp(ticket))
            owners |= owner_tags(ticket)
            tickets += 1
        if any(n < 0 for n in counts.values()):  # `before` did not describe it: summarize it
            parsed_key, data = self._read_keyed(path)
            head = _head_of(parsed_key or (0, 0, -1), data.get(_TABLE, {}).values())
        else:
            # A changed ticket keeps its created_at, so first and last stay true bounds.
            head = {"partition": list(key), "tickets": tickets,
                    "counts": {s: n for s, n in counts.items() if n},
                    "first": min(stamps, default=""), "last": max(stamps, default=""),
                    "owners": sorted(owners)}
        self._heads[number] = head
        self._write_head(number, head)

    # -- writes (locked, re-read after acquiring)

    def add(self, ticket: Ticket) -> Ticket:
        """Store a new ticket durably; returns once it is on disk."""
        self._acquire()
        try:
            # Taken means stored: an index entry whose ticket never reached its partition (a
            # crash between the two writes) names a ticket that was never acknowledged.
            while self.get(ticket["reference"]) is not None:
                ticket["reference"] = new_reference()  # 2^60 space: practically never loops
            number = self._head_for_insert()
            self._set_index({ticket["reference"]: number})
            before = self._head(number, store=False)
            self._db(number).insert(ticket)
            self._wrote(number, before, came=[ticket])
        finally:
            self._lock.release()
        return ticket

    def _newest_partition(self) -> int:
        """The newest partition's number (0: none yet), without listing the folder on every
        add: at 1M tickets it holds some 24,000 files, and listing them took more time than
        the rest of an add. Partitions are only created as the newest one plus one, under
        the lock, so the newest this process last saw is still there and any newer ones
        follow it: two stats find the newest. Listed again if that file is gone (a folder
        restored or replaced under a running server)."""
        number = self._newest
        if not number or not self._partition_path(number).exists():
            numbers = self._partitions()
            number = numbers[-1] if numbers else 0
        while self._partition_path(number + 1).exists():
            number += 1
        self._newest = number
        return number

    def _head_for_insert(self) -> int:
        head = self._newest_partition() or 1
        path = self._partition_path(head)
        # The size is one stat; counting tickets would mean parsing the partition once more.
        full = path.exists() and path.stat().st_size >= self.partition_bytes
        if full or (self.partition_size and len(self._docs(head)) >= self.partition_size):
            head += 1
        self._newest = head  # once written, the next add stats it (or lists, if it was not)
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
            before = self._head(number, store=False)
            db.table(_TABLE).upsert(ticket, Query().reference == reference)
            self._wrote(number, before, gone=[doc["status"]], came=[ticket])
        finally:
            self._lock.release()
        return ticket, result

    def tickets_of(self, email: str, user_id: str | None = None,
                   limit: int = OWNED_MAX) -> list[Summary]:
        """Reads only the partitions whose summary holds the owner's tag (see _owner_tag)."""
        tag = (_owner_tag("u", user_id) if user_id is not None
               else _owner_tag("e", email.casefold()))
        numbers = [n for n in self._partitions()
                   if (head := self._head(n)) is not None and tag in head["owners"]]
        docs = (doc for n in numbers for doc in list(self._docs(n).values()))
        return newest_owned(docs, email, user_id, limit)

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
                    key, data = self._read_keyed(self._partition_path(number))
                    if key is not None:
                        self._heads[number] = _head_of(key, data.get(_TABLE, {}).values())
                        self._write_head(number, self._heads[number])
            self._set_index(removed)
            for shard in {self._shard_path(r) for r in removed}:
                self._drop_backup(shard)
        finally:
            self._lock.release()
        return len(removed)

    def _drop_backup(self, path: Path) -> None:
        try:
            durable.keep_backup(path)
        except OSError as exc:
            raise storage_error(path.with_name(path.name + ".bak"), exc) from exc


__all__ = ["JSONTicketStore"]
