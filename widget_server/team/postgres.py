"""PostgresTeamStore: agents, sessions and the audit log in the tables of migration 0008.

Used when `ticket_store` is a postgresql:// URL, so every node shares them. An agent is changed
with SELECT … FOR UPDATE and the UPDATE in one transaction, so two nodes accepting the same
two-step code at once cannot both succeed. Imported only when a setting names PostgreSQL.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..errors import Conflict, NotFound, ValidationFailed
from ..pg import Database, storable
from .model import Agent, AuditEntry, SessionRecord
from .store import AgentChange

log = logging.getLogger("deskbell.team")
_SESSION = "id, agent_id, csrf, created_at, last_seen, ip, user_agent"
_AUDIT = "at, actor, agent_id, ip, action, target, detail"


def _session(row: tuple[Any, ...]) -> SessionRecord:
    sid, agent_id, csrf, created_at, last_seen, ip, user_agent = row
    return SessionRecord(id=sid, agent_id=agent_id, csrf=csrf, created_at=created_at,
                         last_seen=last_seen, ip=ip, user_agent=user_agent)


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    at, actor, agent_id, ip, action, target, detail = row
    return AuditEntry(at=at, actor=actor, agent_id=agent_id, ip=ip, action=action,
                      target=target, detail=dict(detail or {}))


class PostgresTeamStore:
    def __init__(self, url: str, *, schema: str | None = None, max_size: int = 4,
                 timeout: float = 5.0) -> None:
        self._db = Database(url, what="team", logger=log, schema=schema, min_size=1,
                            max_size=max_size, timeout=timeout)

    def close(self) -> None:
        self._db.close()

    # -- agents

    def agents(self) -> list[Agent]:
        with self._db.transaction() as conn:
            rows = conn.execute("SELECT document FROM agents ORDER BY seq").fetchall()
        return [Agent.from_dict(row[0]) for row in rows]

    def _one(self, where: str, value: str) -> Agent | None:
        with self._db.transaction() as conn:
            row = conn.execute(f"SELECT document FROM agents WHERE {where} = %s",
                               (value,)).fetchone()
        return Agent.from_dict(row[0]) if row else None

    def agent(self, agent_id: str) -> Agent | None:
        return self._one("id", agent_id)

    def agent_named(self, name: str) -> Agent | None:
        return self._one("name", name)

    def add_agent(self, agent: Agent) -> None:
        if not storable(agent.display_name):
            raise ValidationFailed("agent: a name PostgreSQL cannot hold",
                                   {"display_name": "contains a NUL character"})
        with self._db.transaction() as conn:
            added = conn.execute(
                "INSERT INTO agents (id, name, document) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING", (agent.id, agent.name, Jsonb(agent.as_dict())))
            if added.rowcount == 0:
                raise Conflict(f"an agent named {agent.name!r} exists")

    def update_agent(self, agent_id: str, change: AgentChange) -> Agent:
        with self._db.transaction() as conn:
            row = conn.execute("SELECT document FROM agents WHERE id = %s FOR UPDATE",
                               (agent_id,)).fetchone()
            if row is None:
                raise NotFound(f"no agent {agent_id}")
            changed = change(Agent.from_dict(row[0]))
            conn.execute("UPDATE agents SET document = %s WHERE id = %s",
                         (Jsonb(changed.as_dict()), agent_id))
        return changed

    # -- sessions

    def add_session(self, record: SessionRecord) -> None:
        with self._db.transaction() as conn:
            conn.execute(f"INSERT INTO agent_sessions ({_SESSION}) VALUES "
                         "(%s, %s, %s, %s, %s, %s, %s)",
                         (record.id, record.agent_id, record.csrf, record.created_at,
                          record.last_seen, record.ip, record.user_agent))

    def session(self, session_id: str) -> SessionRecord | None:
        with self._db.transaction() as conn:
            row = conn.execute(f"SELECT {_SESSION} FROM agent_sessions WHERE id = %s",
                               (session_id,)).fetchone()
        return _session(row) if row else None

    def sessions(self, agent_id: str | None = None) -> list[SessionRecord]:
        with self._db.transaction() as conn:
            rows = conn.execute(
                f"SELECT {_SESSION} FROM agent_sessions "
                "WHERE %(agent)s::text IS NULL OR agent_id = %(agent)s ORDER BY created_at",
                {"agent": agent_id}).fetchall()
        return [_session(row) for row in rows]

    def touch_session(self, session_id: str, at: datetime) -> None:
        with self._db.transaction() as conn:
            conn.execute("UPDATE agent_sessions SET last_seen = %s WHERE id = %s",
                         (at, session_id))

    def end_sessions(self, *, session_id: str | None = None, agent_id: str | None = None,
                     seen_before: datetime | None = None,
                     created_before: datetime | None = None) -> list[SessionRecord]:
        where: list[str] = ["TRUE"]
        params: list[Any] = []
        if session_id is not None:
            where.append("(id = %s OR (length(%s) = 16 AND left(id, 16) = %s))")
            params += [session_id, session_id, session_id]
        if agent_id is not None:
            where.append("agent_id = %s")
            params.append(agent_id)
        stale = []
        if seen_before is not None:
            stale.append("last_seen < %s")
            params.append(seen_before)
        if created_before is not None:
            stale.append("created_at < %s")
            params.append(created_before)
        if stale:
            where.append(f"({' OR '.join(stale)})")
        with self._db.transaction() as conn:
            rows = conn.execute(
                f"DELETE FROM agent_sessions WHERE {' AND '.join(where)} RETURNING {_SESSION}",
                params).fetchall()
        return [_session(row) for row in rows]

    # -- audit

    def append_audit(self, entry: AuditEntry) -> None:
        with self._db.transaction() as conn:
            conn.execute(f"INSERT INTO audit_log ({_AUDIT}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                         (entry.at, entry.actor, entry.agent_id, entry.ip, entry.action,
                          entry.target, Jsonb(entry.detail)))

    def audit(self, since: datetime | None = None) -> list[AuditEntry]:
        with self._db.transaction() as conn:
            rows = conn.execute(
                f"SELECT {_AUDIT} FROM audit_log WHERE %(since)s::timestamptz IS NULL "
                "OR at >= %(since)s ORDER BY seq", {"since": since}).fetchall()
        return [_entry(row) for row in rows]

    def prune_audit(self, before: datetime) -> int:
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM audit_log WHERE at < %s", (before,)).rowcount


__all__ = ["PostgresTeamStore"]
