"""The append-only event store: self-service events as JSON lines, one file per UTC day.

Layout: ``<data_dir>/events/YYYY-MM-DD.jsonl``. Each event is one line
``{"at": iso-utc, "session": "s_..."|null, "type": str, "data": {...}}`` written with a single
``os.write`` on an ``O_APPEND`` descriptor and fsynced before ``append`` returns, so an
acknowledged event survives a crash. A crash mid-write can leave a torn last line; readers skip
any line that is not a complete JSON object, and the next writer starts on a fresh line.

Events carry no IP address, email or name: a session id is a random token that lives only in
the visitor's tab. Old day files are deleted once they are older than the retention period.
An event is written only if its type and data fields are declared in registry.py; reading never
judges: a stored line of any type is returned as it is.

This is the default EventStore (protocol.py; `event_store = "json"`). MemoryEventStore below
keeps the same records in a list (`event_store = "memory"`: lost on exit, one process; tests
and demos); PostgreSQL's is postgres.py.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import StorageUnavailable
from .protocol import (
    DEFAULT_MAX_DAY_BYTES,
    MAX_EVENT_BYTES,
    Event,
    EventsFull,
    EventStore,
    NewEvent,
    decode,
    encode,
    parse_time,
    utc_now,
)

_DAY_FILE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})\.jsonl")


class JSONEventStore(EventStore):
    """Append-only JSON-lines store; safe for many threads of one process."""

    def __init__(
        self,
        data_dir: str | Path,
        retention_days: int | None = 180,
        max_day_bytes: int = DEFAULT_MAX_DAY_BYTES,
    ) -> None:
        self.dir = Path(data_dir) / "events"
        self.retention_days = retention_days
        self.max_day_bytes = max_day_bytes
        self._lock = threading.Lock()
        self._line_ok: set[Path] = set()
        self._last_purge: date | None = None
        self.dir.mkdir(parents=True, exist_ok=True)
        self.purge()

    @classmethod
    def from_settings(cls, settings: Any) -> JSONEventStore:
        """The JSON store as configured: data_dir, events_retention_days, events_max_day_mb."""
        return cls(settings.data_dir, settings.events_retention_days,
                   settings.events_max_day_mb * 1024 * 1024)

    def path_for(self, day: date) -> Path:
        return self.dir / f"{day.isoformat()}.jsonl"

    def append_many(self, events: Iterable[NewEvent]) -> int:
        """Write events durably (one write and one fsync per day file); returns how many."""
        now = utc_now()
        by_day: dict[date, list[bytes]] = {}
        for item in events:
            encoded = encode(item, now)
            by_day.setdefault(encoded.day, []).append(encoded.line)
        self._purge_daily(now.date())
        for day, lines in sorted(by_day.items()):
            self._write(self.path_for(day), b"".join(lines))
        return sum(len(lines) for lines in by_day.values())

    def _write(self, path: Path, payload: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            size = os.fstat(fd).st_size
            if size + len(payload) > self.max_day_bytes:
                raise EventsFull(f"event log for {path.stem} reached its daily size cap")
            # A crash may have left a torn line without its newline; start on a fresh line so the
            # next event is not glued onto it. Checked once per file per process.
            with self._lock:
                if path not in self._line_ok:
                    if size and not _ends_with_newline(path):
                        payload = b"\n" + payload
                    self._line_ok.add(path)
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)

    def day_files(self) -> list[tuple[date, Path]]:
        found = []
        for path in self.dir.glob("*.jsonl"):
            match = _DAY_FILE_RE.fullmatch(path.name)
            if match:
                found.append((date.fromisoformat(match.group(1)), path))
        return sorted(found)

    def iter_events(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Event]:
        """Events with since <= at < until, file by file; torn or foreign lines are skipped.

        Each event is {"at", "session", "type", "data"} plus "_at", the parsed aware datetime.
        """
        first = since.astimezone(UTC).date() if since else None
        last = until.astimezone(UTC).date() if until else None
        for day, path in self.day_files():
            if (first and day < first) or (last and day > last):
                continue
            yield from _read_file(path, since, until)

    def days(self) -> list[date]:
        return [day for day, _ in self.day_files()]

    def purge(self, today: date | None = None) -> list[Path]:
        """Delete day files older than the retention period; returns the deleted paths."""
        today = today or utc_now().date()
        cutoff = _cutoff(today, self.retention_days)
        removed = []
        for day, path in self.day_files():
            if day < cutoff:
                path.unlink(missing_ok=True)
                removed.append(path)
        self._last_purge = today
        return removed

    def _purge_daily(self, today: date) -> None:
        if self._last_purge != today:
            self.purge(today)


def _cutoff(today: date, retention_days: int | None) -> date:
    """The oldest day retention keeps (every day, for None)."""
    return date.min if retention_days is None else today - timedelta(days=retention_days)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _read_file(
    path: Path, since: datetime | None, until: datetime | None
) -> Iterator[Event]:
    try:
        fh = path.open("rb")
    except FileNotFoundError:  # deleted by retention while we were listing
        return
    except OSError as exc:  # a folder in its place, no permission: say which file
        raise StorageUnavailable(f"Events cannot be read: {path} ({exc.strerror or exc}); "
                                 "nothing was changed") from None
    with fh:
        try:
            for raw in fh:
                record = decode(raw)
                if record is None:
                    continue
                if (since and record["_at"] < since) or (until and record["_at"] >= until):
                    continue
                yield record
        except OSError as exc:
            raise StorageUnavailable(f"Events cannot be read: {path} ({exc.strerror or exc}); "
                                     "nothing was changed") from None


class MemoryEventStore(EventStore):
    """The records the JSON store would write, kept in a list: lost when the process ends, and
    seen by that process only (`event_store = "memory"`, for tests and demos). A batch is all
    or nothing; reads go day by day in the order written, as from the JSON store's files."""

    def __init__(self, retention_days: int | None = 180,
                 max_day_bytes: int = DEFAULT_MAX_DAY_BYTES) -> None:
        self.retention_days = retention_days
        self.max_day_bytes = max_day_bytes
        self._lock = threading.Lock()
        self._lines: list[tuple[date, int, datetime, bytes]] = []  # day, order, at, line
        self._day_bytes: dict[date, int] = {}
        self._written = 0
        self._last_purge: date | None = None

    def append_many(self, events: Iterable[NewEvent]) -> int:
        now = utc_now()
        encoded = [encode(item, now) for item in events]
        with self._lock:
            if self._last_purge != now.date():
                self._purge(now.date())
            sizes: dict[date, int] = {}
            for item in encoded:
                sizes[item.day] = sizes.get(item.day, 0) + len(item.line)
            for day, size in sorted(sizes.items()):
                if self._day_bytes.get(day, 0) + size > self.max_day_bytes:
                    raise EventsFull(f"event log for {day.isoformat()} reached its daily size cap")
            for day, size in sizes.items():
                self._day_bytes[day] = self._day_bytes.get(day, 0) + size
            for item in encoded:
                self._written += 1
                self._lines.append((item.day, self._written, item.at, item.line))
        return len(encoded)

    def iter_events(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Event]:
        with self._lock:
            lines = sorted(self._lines)
        for _, _, at, line in lines:
            if (since and at < since) or (until and at >= until):
                continue
            record = decode(line)
            if record is not None:
                yield record

    def days(self) -> list[date]:
        with self._lock:
            return sorted(self._day_bytes)

    def purge(self, today: date | None = None) -> list[date]:
        """Forget the days older than the retention period; returns those days."""
        with self._lock:
            return self._purge(today or utc_now().date())

    def _purge(self, today: date) -> list[date]:
        cutoff = _cutoff(today, self.retention_days)
        removed = sorted(day for day in self._day_bytes if day < cutoff)
        for day in removed:
            del self._day_bytes[day]
        self._lines = [entry for entry in self._lines if entry[0] >= cutoff]
        self._last_purge = today
        return removed


__all__ = ["MAX_EVENT_BYTES", "EventStore", "EventsFull", "JSONEventStore", "MemoryEventStore",
           "NewEvent", "parse_time", "utc_now"]
