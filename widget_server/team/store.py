"""Where agents, their sessions and the audit log are kept: beside the tickets.

The `ticket_store` setting picks the backend (open_team_store), as it does for notices, so
scale-out nodes that share tickets also share agents, sessions (a sign-in on one node holds on
every node, and ending it ends it everywhere) and one audit log:

    json        <data_dir>/team/agents.json and sessions.json, each replaced whole
                (durable.write_atomic) under one file lock held across every
                read-modify-write, so workers and the `deskbell` command can write at once;
                the audit log is JSON lines, a file per UTC day under <data_dir>/audit/,
                only ever appended to (O_APPEND, fsynced) and deleted a whole day at a time
                by retention (audit_retention_days)
    memory      this process only (tests, demos)
    postgresql  the tables of migration 0008 (team/postgres.py)

Nothing here edits or deletes an audit entry except retention: there is no such method.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock, Timeout

from ..durable import fsync_dir, write_atomic
from ..errors import Conflict, NotFound, StorageUnavailable
from ..settings import Settings
from ..tickets.files import storage_error
from .model import Agent, AuditEntry, SessionRecord

AgentChange = Callable[[Agent], Agent]


class TeamStore(Protocol):
    def agents(self) -> list[Agent]:
        """Every agent, oldest first."""

    def agent(self, agent_id: str) -> Agent | None: ...

    def agent_named(self, name: str) -> Agent | None: ...

    def add_agent(self, agent: Agent) -> None:
        """Conflict when the name is taken."""

    def update_agent(self, agent_id: str, change: AgentChange) -> Agent:
        """Apply `change` to the stored agent atomically (NotFound if none); `change` may
        raise to refuse, and nothing is written then."""

    def add_session(self, record: SessionRecord) -> None: ...

    def session(self, session_id: str) -> SessionRecord | None: ...

    def sessions(self, agent_id: str | None = None) -> list[SessionRecord]:
        """Open sessions (of one agent), oldest first."""

    def touch_session(self, session_id: str, at: datetime) -> None: ...

    def end_sessions(self, *, session_id: str | None = None, agent_id: str | None = None,
                     seen_before: datetime | None = None,
                     created_before: datetime | None = None) -> list[SessionRecord]:
        """End the sessions matching every given filter (an id or its 16-digit handle, an
        agent, idle or too old); returns those ended."""

    def append_audit(self, entry: AuditEntry) -> None: ...

    def audit(self, since: datetime | None = None) -> list[AuditEntry]:
        """Audit entries at or after `since`, oldest first."""

    def prune_audit(self, before: datetime) -> int:
        """Retention: drop entries older than `before` (the JSON store: whole UTC days)."""

    def close(self) -> None: ...


def _matches(record: SessionRecord, session_id: str | None, agent_id: str | None,
             seen_before: datetime | None, created_before: datetime | None) -> bool:
    if session_id is not None and not (record.id == session_id or
                                       (len(session_id) == 16 and record.handle == session_id)):
        return False
    if agent_id is not None and record.agent_id != agent_id:
        return False
    if seen_before is not None or created_before is not None:
        idle = seen_before is not None and record.last_seen < seen_before
        old = created_before is not None and record.created_at < created_before
        return idle or old
    return True


def _name_taken(agents: list[Agent], agent: Agent) -> None:
    if any(a.name == agent.name for a in agents):
        raise Conflict(f"an agent named {agent.name!r} exists")


class MemoryTeamStore:
    """Agents, sessions and the audit log of this process only."""

    def __init__(self) -> None:
        self._agents: dict[str, Agent] = {}
        self._sessions: dict[str, SessionRecord] = {}
        self._audit: list[AuditEntry] = []
        self._lock = threading.Lock()

    def agents(self) -> list[Agent]:
        with self._lock:
            return list(self._agents.values())

    def agent(self, agent_id: str) -> Agent | None:
        return self._agents.get(agent_id)

    def agent_named(self, name: str) -> Agent | None:
        return next((a for a in self.agents() if a.name == name), None)

    def add_agent(self, agent: Agent) -> None:
        with self._lock:
            _name_taken(list(self._agents.values()), agent)
            self._agents[agent.id] = agent

    def update_agent(self, agent_id: str, change: AgentChange) -> Agent:
        with self._lock:
            found = self._agents.get(agent_id)
            if found is None:
                raise NotFound(f"no agent {agent_id}")
            self._agents[agent_id] = changed = change(found)
            return changed

    def add_session(self, record: SessionRecord) -> None:
        with self._lock:
            self._sessions[record.id] = record

    def session(self, session_id: str) -> SessionRecord | None:
        return self._sessions.get(session_id)

    def sessions(self, agent_id: str | None = None) -> list[SessionRecord]:
        with self._lock:
            return [s for s in self._sessions.values() if agent_id in (None, s.agent_id)]

    def touch_session(self, session_id: str, at: datetime) -> None:
        with self._lock:
            found = self._sessions.get(session_id)
            if found is not None:
                self._sessions[session_id] = SessionRecord(**{**found.__dict__, "last_seen": at})

    def end_sessions(self, *, session_id: str | None = None, agent_id: str | None = None,
                     seen_before: datetime | None = None,
                     created_before: datetime | None = None) -> list[SessionRecord]:
        with self._lock:
            ended = [s for s in self._sessions.values()
                     if _matches(s, session_id, agent_id, seen_before, created_before)]
            for record in ended:
                del self._sessions[record.id]
            return ended

    def append_audit(self, entry: AuditEntry) -> None:
        with self._lock:
            self._audit.append(entry)

    def audit(self, since: datetime | None = None) -> list[AuditEntry]:
        with self._lock:
            return [e for e in self._audit if since is None or e.at >= since]

    def prune_audit(self, before: datetime) -> int:
        with self._lock:
            kept = [e for e in self._audit if e.at >= before]
            dropped, self._audit = len(self._audit) - len(kept), kept
            return dropped

    def close(self) -> None:
        pass


class JSONTeamStore:
    """<data_dir>/team/*.json and <data_dir>/audit/*.jsonl (see the module docstring)."""

    def __init__(self, data_dir: str | Path, lock_timeout: float = 10.0) -> None:
        self.folder = Path(data_dir) / "team"
        self.audit_dir = Path(data_dir) / "audit"
        self._lock = FileLock(str(self.folder / "team.lock"), timeout=lock_timeout)
        self._cache: dict[str, tuple[tuple[int, int, int], list[dict[str, Any]]]] = {}

    # -- files

    def _read(self, name: str) -> list[dict[str, Any]]:
        path = self.folder / f"{name}.json"
        try:
            st = path.stat()
        except FileNotFoundError:
            return []
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._cache.get(name)
        if cached is not None and cached[0] == key:
            return list(cached[1])
        try:
            items = json.loads(path.read_bytes())[name]
            if not isinstance(items, list):
                raise TypeError(f"{name} is not a list")
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageUnavailable(
                f"team file {path} is corrupt ({type(exc).__name__}: {exc}); restore the "
                f"previous generation with `cp {path}.bak {path}`", {"file": str(path)}) from None
        self._cache[name] = (key, items)
        return list(items)

    def _write(self, name: str, items: list[dict[str, Any]]) -> None:
        path = self.folder / f"{name}.json"
        try:
            write_atomic(path, json.dumps({name: items}, ensure_ascii=False, indent=1) + "\n",
                         permissions=0o600, backup=True)
        except OSError as exc:
            raise storage_error(path, exc) from exc

    def _locked(self) -> FileLock:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except Timeout:
            raise StorageUnavailable("the team files are busy; try again shortly") from None
        except OSError as exc:
            raise storage_error(self.folder, exc) from exc
        return self._lock

    def _change(self, name: str,
                change: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None]) -> None:
        lock = self._locked()
        try:
            items = change(self._read(name))
            if items is not None:
                self._write(name, items)
        finally:
            lock.release()

    # -- agents

    def agents(self) -> list[Agent]:
        return [Agent.from_dict(a) for a in self._read("agents")]

    def agent(self, agent_id: str) -> Agent | None:
        return next((a for a in self.agents() if a.id == agent_id), None)

    def agent_named(self, name: str) -> Agent | None:
        return next((a for a in self.agents() if a.name == name), None)

    def add_agent(self, agent: Agent) -> None:
        def add(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            _name_taken([Agent.from_dict(a) for a in items], agent)
            return [*items, agent.as_dict()]
        self._change("agents", add)

    def update_agent(self, agent_id: str, change: AgentChange) -> Agent:
        done: list[Agent] = []

        def update(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            for i, item in enumerate(items):
                if item.get("id") == agent_id:
                    done.append(change(Agent.from_dict(item)))
                    items[i] = done[0].as_dict()
                    return items
            raise NotFound(f"no agent {agent_id}")
        self._change("agents", update)
        return done[0]

    # -- sessions

    def add_session(self, record: SessionRecord) -> None:
        self._change("sessions", lambda items: [*items, record.as_dict()])

    def sessions(self, agent_id: str | None = None) -> list[SessionRecord]:
        return [r for r in map(SessionRecord.from_dict, self._read("sessions"))
                if agent_id in (None, r.agent_id)]

    def session(self, session_id: str) -> SessionRecord | None:
        return next((s for s in self.sessions() if s.id == session_id), None)

    def touch_session(self, session_id: str, at: datetime) -> None:
        def touch(items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            for item in items:
                if item.get("id") == session_id:
                    item["last_seen"] = at.isoformat()
                    return items
            return None
        self._change("sessions", touch)

    def end_sessions(self, *, session_id: str | None = None, agent_id: str | None = None,
                     seen_before: datetime | None = None,
                     created_before: datetime | None = None) -> list[SessionRecord]:
        ended: list[SessionRecord] = []

        def end(items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            kept = []
            for item in items:
                record = SessionRecord.from_dict(item)
                if _matches(record, session_id, agent_id, seen_before, created_before):
                    ended.append(record)
                else:
                    kept.append(item)
            return kept if ended else None
        self._change("sessions", end)
        return ended

    # -- audit

    def _day_files(self) -> list[Path]:
        try:
            return sorted(p for p in self.audit_dir.iterdir()
                          if p.suffix == ".jsonl" and len(p.stem) == 10)
        except FileNotFoundError:
            return []

    def append_audit(self, entry: AuditEntry) -> None:
        path = self.audit_dir / f"{entry.at.strftime('%Y-%m-%d')}.jsonl"
        line = (json.dumps(entry.as_dict(), ensure_ascii=False, sort_keys=True) + "\n").encode()
        try:
            self.audit_dir.mkdir(parents=True, exist_ok=True)
            new = not path.exists()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if new:
                fsync_dir(self.audit_dir)
        except OSError as exc:
            raise storage_error(path, exc) from exc

    def _entries(self, since: datetime | None) -> Iterator[AuditEntry]:
        first = since.strftime("%Y-%m-%d") if since is not None else ""
        for path in self._day_files():
            if path.stem < first:
                continue
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    if not line.strip():
                        continue
                    try:
                        entry = AuditEntry.from_dict(json.loads(line))
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut by a crash mid-write
                    if since is None or entry.at >= since:
                        yield entry

    def audit(self, since: datetime | None = None) -> list[AuditEntry]:
        return list(self._entries(since))

    def prune_audit(self, before: datetime) -> int:
        last_dropped = (before - timedelta(days=1)).strftime("%Y-%m-%d")
        dropped = 0
        for path in self._day_files():
            if path.stem <= last_dropped:
                with path.open(encoding="utf-8") as fh:
                    dropped += sum(1 for line in fh if line.strip())
                path.unlink(missing_ok=True)
        return dropped

    def close(self) -> None:
        pass


def open_team_store(settings: Settings) -> TeamStore:
    """The store beside the tickets (the `ticket_store` setting); StoreSettingError when
    PostgreSQL cannot be used."""
    from ..tickets.factory import open_beside_tickets

    def postgres() -> Callable[[str], TeamStore]:
        from .postgres import PostgresTeamStore
        return PostgresTeamStore

    as_json: Callable[[Path], TeamStore] = JSONTeamStore
    in_memory: Callable[[], TeamStore] = MemoryTeamStore
    return open_beside_tickets(settings, as_json, in_memory, postgres)


__all__ = ["JSONTeamStore", "MemoryTeamStore", "TeamStore", "open_team_store"]
