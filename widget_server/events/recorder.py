"""Searches as the server answered them, recorded behind the answer: `SearchRecorder`.

Every search a visitor makes through the API (the widget passes its session) or the
`/kb/search` page is recorded here with the true result count, the ranking's confidence and
the answer it quoted, so no browser can forge what the report counts. Two things keep this off
the search's hot path and honest:

- **Write-behind.** `record` only updates a dict under a lock (microseconds); a writer
  thread writes what has settled with `EventStore.append_many` (one fsync per batch), every
  `interval` seconds, and ends when nothing is left (the next search starts it again).
  Closing the recorder (the server's shutdown) writes everything pending. A process that is
  killed loses at most its pending searches.
- **One search per query the visitor settled on.** A session's search waits `settle`
  seconds: if the same session searches again meanwhile and one query begins with the other
  (typing "p", "pa", "pas"..., backspacing, or the same query again), the newer one replaces
  it, so typing a query letter by letter records one search, not twenty. Any other event of
  the session (an article read, a vote, a ticket) settles its pending search at once, so the
  trail keeps the search that led to the read. A settled search still waits GRACE seconds
  for the rest of the typing: the visitor may click a result while the panel's searches of
  what they typed last (an instant preview, then the full search) are still on their way;
  those replace the settled one's query and figures, keeping its time (before the read). A
  full search brings the true count and the answer to a preview of the same query. Searches without a session (the help-center page, API callers) are each recorded
  as they come; previews without a session are not recorded (nothing could fold them).

Searches are kept per process: with several workers, a visitor's requests usually stay on one
kept-alive connection, hence one worker; should they land on two, each worker records the
query it last saw.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..errors import DeskbellError, StorageUnavailable
from .protocol import EventStore, NewEvent, utc_now
from .registry import SEARCH

log = logging.getLogger("deskbell")
MAX_KEPT = 100_000  # searches held while the store is unreachable


@dataclass
class _Pending:
    event: NewEvent
    seen: float  # the clock when the session last searched (or moved on: closed)
    instant: bool  # a preview's figures, to be replaced by the full search's
    closed: bool = False  # the session moved on: no other query folds into this one


GRACE = 5.0  # seconds a search waits after its session moved on, for its own full answer


def refines(older: str, newer: str) -> bool:
    """Whether `newer` continues the same typing as `older`: one begins with the other."""
    return newer.startswith(older) or older.startswith(newer)


class SearchRecorder:
    """Records searches into an EventStore, settled and written behind (module docstring)."""

    def __init__(self, events: EventStore, settle: float = 30.0, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = utc_now, background: bool = True) -> None:
        self._events = events
        self._settle, self._interval = settle, interval
        self._clock, self._now = clock, now
        self._background = background  # False: only flush() writes (tests drive it)
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._ready: list[NewEvent] = []
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None

    def _wake(self) -> None:
        """Start the writer if it is not running (the lock is held)."""
        if self._background and self._writer is None and not self._stop.is_set():
            self._writer = threading.Thread(target=self._run, name="deskbell-search-recorder",
                                            daemon=True)
            self._writer.start()

    def record(self, session: str | None, query: str, results: int, *, confidence: float,
               answer: str, locale: str, instant: bool = False) -> None:
        """Note one answered search; `query` already normalized ("" records nothing).
        `instant`: a preview while typing, whose figures a full search of the same query
        replaces."""
        if not query:
            return
        data: dict[str, Any] = {"query": query, "results": results,
                                "confidence": round(confidence, 3), "answer": answer,
                                "locale": locale}
        event = NewEvent(session, SEARCH, data, self._now())
        with self._lock:
            self._wake()
            if not session:
                self._ready.append(event)
                return
            now = self._clock()
            pending = self._pending.get(session)
            if pending is None:
                self._pending[session] = _Pending(event, now, instant)
                return
            older = str(pending.event.data["query"])
            if older == query:
                if pending.instant and not instant:  # the full answer to what was previewed
                    pending.event = replace(pending.event, data=data)
                    pending.instant = False
                if not pending.closed:
                    pending.seen = now
            elif not refines(older, query) or (
                    pending.closed and now - pending.seen > min(GRACE, self._settle)):
                self._ready.append(pending.event)  # another search: the older one is final
                self._pending[session] = _Pending(event, now, instant)
            elif pending.closed:
                # Typed on while the visitor already clicked a result of the shorter query:
                # the query they settled on, at the time of the search that led to the read.
                pending.event = replace(pending.event, data=data)
                pending.instant = instant
            else:
                self._pending[session] = _Pending(event, now, instant)  # still typing

    def settle(self, session: str | None) -> None:
        """The session did something else: its pending search is final."""
        if not session:
            return
        with self._lock:
            pending = self._pending.get(session)
            if pending is not None and not pending.closed:
                pending.closed, pending.seen = True, self._clock()

    def pending(self) -> int:
        """Searches recorded but not yet written."""
        with self._lock:
            return len(self._ready) + len(self._pending)

    def flush(self, everything: bool = False) -> int:
        """Write the searches that have settled (all of them with `everything`); returns how
        many were written. While the store cannot be reached the batch is kept for the next
        try (up to MAX_KEPT searches, oldest dropped first; at shutdown it is dropped); a store
        that refuses it (today's events are full) drops it. Either is logged."""
        with self._lock:
            now = self._clock()
            for session, pending in list(self._pending.items()):
                wait = min(GRACE, self._settle) if pending.closed else self._settle
                if everything or now - pending.seen >= wait:
                    self._ready.append(pending.event)
                    del self._pending[session]
            batch, self._ready = self._ready, []
        if not batch:
            return 0
        batch.sort(key=lambda e: e.at or self._now())  # the store keeps them in time order
        try:
            return self._events.append_many(batch)
        except (StorageUnavailable, OSError) as exc:
            if everything:
                log.error("could not record %d searches: %s", len(batch), exc)
                return 0
            with self._lock:
                self._ready[:0] = batch
                lost = max(0, len(self._ready) - MAX_KEPT)
                del self._ready[:lost]
            log.error("could not record %d searches yet (kept for the next try%s): %s",
                      len(batch), f"; {lost} oldest dropped" if lost else "", exc)
            return 0
        except DeskbellError as exc:
            log.error("could not record %d searches: %s", len(batch), exc)
            return 0

    def close(self) -> None:
        """Stop the writer and write everything still pending."""
        with self._lock:
            self._stop.set()
            writer = self._writer
        if writer is not None:
            writer.join(timeout=10)
        self.flush(everything=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except Exception:  # the writer must outlive any one bad batch
                log.exception("the search recorder failed to write")
            with self._lock:
                if not self._pending and not self._ready:
                    self._writer = None  # idle: the next search starts a new writer
                    return


__all__ = ["SearchRecorder", "refines"]
