"""Where notices are kept, and the short per-process cache the panel reads them through.

    NoticeStore         the protocol: add, all, clear
    JSONNoticeStore     <data_dir>/notices.json, the default (ticket_store = json): replaced
                        whole by durable.write_atomic under a filelock held across each
                        read-modify-write, so the server's workers and the `deskbell`
                        command can publish and clear at the same time without losing one
    MemoryNoticeStore   ticket_store = memory (tests, demos)
    PostgresNoticeStore notices/postgres.py, when ticket_store is a postgresql:// URL: every
                        node reads the same table (migration 0004)
    NoticeBoard         what the server holds: a store, and the notices not yet over cached
                        for `ttl` seconds, so opening the panel does not query the database
                        each time; expiry is applied on every read, from the cache too

The backend follows the `ticket_store` setting (open_notice_store): notices live beside the
tickets, and scale-out nodes that share tickets share notices.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout

from ..durable import write_atomic
from ..errors import DeskbellError, NotFound, StorageUnavailable
from ..settings import Settings
from ..tickets.files import storage_error
from .model import Notice

FILE = "notices.json"
CACHE_SECONDS = 5.0


class NoticeStore(Protocol):
    def add(self, notice: Notice) -> None:
        """Keep a new notice."""

    def all(self) -> list[Notice]:
        """Every notice ever published, oldest first."""

    def clear(self, notice_id: str | None, at: datetime) -> list[Notice]:
        """Clear the notice `notice_id` (NotFound if there is none, whatever its state) or,
        with None, every notice showing at `at`; returns the notices cleared now."""


def _clear(notices: list[Notice], notice_id: str | None, at: datetime) -> list[int]:
    """Which of `notices` clearing `notice_id` (or all showing ones) takes down."""
    if notice_id is None:
        return [i for i, n in enumerate(notices) if n.showing(at)]
    found = [i for i, n in enumerate(notices) if n.id == notice_id]
    if not found:
        raise NotFound(f"no notice {notice_id[:40]!r} (deskbell notice list shows them)")
    return [i for i in found if notices[i].cleared_at is None and at < notices[i].until]


def _cleared(notice: Notice, at: datetime) -> Notice:
    return Notice(id=notice.id, text=notice.text, until=notice.until,
                  created_at=notice.created_at, texts=notice.texts, article=notice.article,
                  cleared_at=at)


class MemoryNoticeStore:
    """Notices in this process only (ticket_store = memory)."""

    def __init__(self) -> None:
        self._notices: list[Notice] = []
        self._lock = threading.Lock()

    def add(self, notice: Notice) -> None:
        with self._lock:
            self._notices.append(notice)

    def all(self) -> list[Notice]:
        with self._lock:
            return list(self._notices)

    def clear(self, notice_id: str | None, at: datetime) -> list[Notice]:
        with self._lock:
            picked = _clear(self._notices, notice_id, at)
            for i in picked:
                self._notices[i] = _cleared(self._notices[i], at)
            return [self._notices[i] for i in picked]


class JSONNoticeStore:
    """<data_dir>/notices.json (see the module docstring): {"notices": [notice, …]}."""

    def __init__(self, data_dir: str | Path, lock_timeout: float = 10.0) -> None:
        self.path = Path(data_dir) / FILE
        self._lock = FileLock(str(self.path.with_name(FILE + ".lock")), timeout=lock_timeout)
        self._cache: tuple[tuple[int, int, int], list[Notice]] | None = None

    def _read(self) -> list[Notice]:
        """The file's notices, parsed again only when the file was replaced."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._cache is not None and self._cache[0] == key:
            return list(self._cache[1])
        try:
            data = json.loads(self.path.read_bytes())
            notices = [Notice.from_dict(item) for item in data["notices"]]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageUnavailable(
                f"notice file {self.path} is corrupt ({type(exc).__name__}: {exc}); restore "
                f"the previous generation with `cp {self.path}.bak {self.path}`",
                {"file": str(self.path)}) from None
        self._cache = (key, notices)
        return list(notices)

    def _write(self, notices: list[Notice]) -> None:
        body = {"notices": [n.as_dict() for n in notices]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(body, ensure_ascii=False, indent=1) + "\n",
                         backup=True)
        except OSError as exc:
            raise storage_error(self.path, exc) from exc

    def _locked(self, change: Callable[[list[Notice]], list[Notice]]) -> list[Notice]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except Timeout:
            raise StorageUnavailable("the notice file is busy; try again shortly") from None
        except OSError as exc:
            raise storage_error(self.path, exc) from exc
        try:
            notices = self._read()  # re-read under the lock: another process may have written
            return change(notices)
        finally:
            self._lock.release()

    def add(self, notice: Notice) -> None:
        def append(notices: list[Notice]) -> list[Notice]:
            self._write([*notices, notice])
            return [notice]
        self._locked(append)

    def all(self) -> list[Notice]:
        return self._read()

    def clear(self, notice_id: str | None, at: datetime) -> list[Notice]:
        def take_down(notices: list[Notice]) -> list[Notice]:
            picked = _clear(notices, notice_id, at)
            if picked:
                for i in picked:
                    notices[i] = _cleared(notices[i], at)
                self._write(notices)
            return [notices[i] for i in picked]
        return self._locked(take_down)


def now_utc() -> datetime:
    return datetime.now(UTC)


class NoticeBoard:
    """A NoticeStore behind a `ttl`-second cache of the notices not yet over.

    `clock` (wall time, for expiry) and `monotonic` (for the cache's age) are parameters so
    tests move time without sleeping. Publishing or clearing through this board drops its
    cache at once; another node's change shows here within `ttl` seconds."""

    def __init__(self, store: NoticeStore, *, ttl: float = CACHE_SECONDS,
                 clock: Callable[[], datetime] = now_utc,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Notice]] | None = None

    def showing(self, at: datetime | None = None) -> list[Notice]:
        """The notices visitors see at `at` (default now), newest first; read from the store
        at most once per `ttl` seconds."""
        at = at or self.clock()
        with self._lock:
            cached = self._cached
            if cached is None or self.monotonic() - cached[0] >= self.ttl:
                try:
                    cached = (self.monotonic(), self._pending(at))
                except DeskbellError:
                    # A store that cannot be read is tried again after `ttl`, not on every
                    # panel opening (each would wait for the database's timeout).
                    self._cached = (self.monotonic(), [])
                    raise
                self._cached = cached
        return [n for n in cached[1] if n.showing(at)]

    def current(self, at: datetime | None = None) -> Notice | None:
        """The notice the panel shows: the newest one showing."""
        found = self.showing(at)
        return found[0] if found else None

    def _pending(self, at: datetime) -> list[Notice]:
        live = [n for n in self.store.all() if n.cleared_at is None and at < n.until]
        # Stores list oldest first; of two published in the same instant, the later wins.
        return sorted(reversed(live), key=lambda n: n.created_at, reverse=True)

    def publish(self, notice: Notice) -> Notice:
        self.store.add(notice)
        self.forget()
        return notice

    def clear(self, notice_id: str | None = None, at: datetime | None = None) -> list[Notice]:
        cleared = self.store.clear(notice_id, at or self.clock())
        self.forget()
        return cleared

    def all(self) -> list[Notice]:
        return self.store.all()

    def forget(self) -> None:
        with self._lock:
            self._cached = None

    def close(self) -> None:
        close = getattr(self.store, "close", None)
        if close is not None:
            close()


def open_notice_store(settings: Settings) -> NoticeStore:
    """The store beside the tickets: the `ticket_store` setting picks it (see the module
    docstring); StoreSettingError when PostgreSQL cannot be used."""
    from ..tickets.factory import open_beside_tickets

    def postgres() -> Callable[[str], NoticeStore]:
        from .postgres import PostgresNoticeStore
        return PostgresNoticeStore

    as_json: Callable[[Path], NoticeStore] = JSONNoticeStore
    in_memory: Callable[[], NoticeStore] = MemoryNoticeStore
    return open_beside_tickets(settings, as_json, in_memory, postgres)


__all__ = ["CACHE_SECONDS", "JSONNoticeStore", "MemoryNoticeStore", "NoticeBoard",
           "NoticeStore", "now_utc", "open_notice_store"]
