"""Who else has a ticket open: the admin's "Ana is also viewing this ticket".

Each admin ticket page, when drawn and then every few seconds while it stays open (a small
script, static/admin-presence.js, polls GET /admin/tickets/{ref}/presence), marks its agent
as viewing that ticket; the others are the agents marked on it in the last WINDOW seconds.

Kept in memory by each server process, on purpose: it is a hint about the next half minute,
worth no write to a disk or a database per poll. On an install with several worker
processes or nodes an agent sees the others whose polls reach the same process, so the line
may miss someone; the stale-reply check (helpdesk.StaleReply), which reads the ticket
itself, holds on every process and is what prevents two answers crossing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

WINDOW = 30.0  # seconds a view counts as "viewing now"
PRUNE_EVERY = 256  # marks between sweeps of every ticket's stale views


class Presence:
    def __init__(self, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._views: dict[str, dict[str, tuple[float, str]]] = {}  # ref: agent id: (at, name)
        self._lock = threading.Lock()
        self._marks = 0

    def saw(self, reference: str, agent_id: str, name: str) -> None:
        """`agent_id` (shown as `name`) has `reference` open now."""
        now = self.clock()
        with self._lock:
            self._views.setdefault(reference, {})[agent_id] = (now, name)
            self._marks += 1
            if self._marks % PRUNE_EVERY == 0:
                for ref in list(self._views):
                    self._fresh(ref, now)

    def others(self, reference: str, agent_id: str) -> list[str]:
        """The names of the other agents who had `reference` open in the last WINDOW
        seconds, alphabetically."""
        with self._lock:
            views = self._fresh(reference, self.clock())
            return sorted(name for who, (_, name) in views.items() if who != agent_id)

    def _fresh(self, reference: str, now: float) -> dict[str, tuple[float, str]]:
        views = {who: seen for who, seen in self._views.get(reference, {}).items()
                 if now - seen[0] <= self.window}
        if views:
            self._views[reference] = views
        else:
            self._views.pop(reference, None)
        return views


def viewing_line(names: list[str]) -> str:
    """"Ana is also viewing this ticket", "Ana and Bo are also viewing…", or ""."""
    if not names:
        return ""
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{who} {'is' if len(names) == 1 else 'are'} also viewing this ticket"


__all__ = ["WINDOW", "Presence", "viewing_line"]
