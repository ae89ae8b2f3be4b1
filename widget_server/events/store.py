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
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import InsufficientStorage, ValidationFailed
from .registry import SESSION_PROBLEM, is_session, vocabulary_problems

MAX_EVENT_BYTES = 4096
DEFAULT_MAX_DAY_BYTES = 100 * 1024 * 1024
_DAY_FILE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})\.jsonl")


class EventsFull(InsufficientStorage):
    """Today's event file reached its size cap; further events are refused until tomorrow."""

    code = "events_full"


@dataclass(frozen=True)
class NewEvent:
    """One event waiting to be written by `EventStore.append_many`."""

    session: str | None
    type: str
    data: Mapping[str, Any]
    at: datetime | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time; a naive time is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _encode(item: NewEvent, now: datetime) -> tuple[date, bytes]:
    if item.session is not None and not is_session(item.session):
        raise ValidationFailed("bad session id", {"session": SESSION_PROBLEM})
    problems = vocabulary_problems(item.type, item.data)
    if problems:
        raise ValidationFailed("event not in the vocabulary (events/registry.py)", problems)
    at = (item.at or now).astimezone(UTC)
    record = {"at": at.isoformat(), "session": item.session, "type": item.type,
              "data": dict(item.data)}
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    if len(line) > MAX_EVENT_BYTES:
        raise ValidationFailed("event too large", {"data": f"at most {MAX_EVENT_BYTES} bytes"})
    return at.date(), line


def _parse_line(raw: bytes) -> dict[str, Any] | None:
    """One stored line as an event, or None for a torn or foreign line."""
    try:
        record = json.loads(raw)
        if not isinstance(record, dict) or not isinstance(record.get("data"), dict):
            return None
        record["_at"] = parse_time(record["at"])
        if not isinstance(record.get("type"), str):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return record


class EventStore:
    """Append-only JSON-lines store; safe for many threads of one process."""

    def __init__(
        self,
        data_dir: str | Path,
        retention_days: int = 180,
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
    def from_settings(cls, settings: Any) -> EventStore:
        """The store as configured: data_dir, events_retention_days, events_max_day_mb."""
        return cls(settings.data_dir, settings.events_retention_days,
                   settings.events_max_day_mb * 1024 * 1024)

    def path_for(self, day: date) -> Path:
        return self.dir / f"{day.isoformat()}.jsonl"

    def append(
        self, session: str | None, type: str, data: Mapping[str, Any], at: datetime | None = None
    ) -> None:
        """Write one event durably; raises ValidationFailed or EventsFull."""
        self.append_many([NewEvent(session, type, data, at)])

    def append_many(self, events: Iterable[NewEvent]) -> int:
        """Write events durably (one write and one fsync per day file); returns how many."""
        now = utc_now()
        by_day: dict[date, list[bytes]] = {}
        for item in events:
            day, line = _encode(item, now)
            by_day.setdefault(day, []).append(line)
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
    ) -> Iterator[dict[str, Any]]:
        """Events with since <= at < until, file by file; torn or foreign lines are skipped.

        Each event is {"at", "session", "type", "data"} plus "_at", the parsed aware datetime.
        """
        first = since.astimezone(UTC).date() if since else None
        last = until.astimezone(UTC).date() if until else None
        for day, path in self.day_files():
            if (first and day < first) or (last and day > last):
                continue
            yield from _read_file(path, since, until)

    def purge(self, today: date | None = None) -> list[Path]:
        """Delete day files older than the retention period; returns the deleted paths."""
        today = today or utc_now().date()
        cutoff = today - timedelta(days=self.retention_days)
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


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _read_file(
    path: Path, since: datetime | None, until: datetime | None
) -> Iterator[dict[str, Any]]:
    try:
        fh = path.open("rb")
    except FileNotFoundError:  # deleted by retention while we were listing
        return
    with fh:
        for raw in fh:
            record = _parse_line(raw)
            if record is None:
                continue
            if (since and record["_at"] < since) or (until and record["_at"] >= until):
                continue
            yield record


__all__ = ["EventStore", "EventsFull", "NewEvent", "parse_time", "utc_now"]
