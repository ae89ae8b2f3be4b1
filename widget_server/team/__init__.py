"""The team: agent accounts with roles, server-side sessions, two-step sign-in, the audit log.

    model.py     Agent, SessionRecord, AuditEntry, Actor; roles and permissions
    passwords.py argon2id hashes, TOTP codes, recovery codes
    store.py     the JSON and memory stores and open_team_store (`ticket_store` picks it)
    postgres.py  the tables of migration 0008, for scale-out installs (imported only then)
    service.py   Team: sign-in, sessions, agents, audit (what the server and CLI share)
"""

from .model import (
    AGENT,
    MANAGE,
    OWNER,
    READ,
    READ_ONLY,
    REPLY,
    ROLES,
    Actor,
    Agent,
    AuditEntry,
    SessionRecord,
    allowed,
)
from .service import AdminSession, LoginRefused, SignedIn, Team, TwoStepSetup
from .store import JSONTeamStore, MemoryTeamStore, TeamStore, open_team_store

__all__ = ["AGENT", "MANAGE", "OWNER", "READ", "READ_ONLY", "REPLY", "ROLES", "Actor",
           "AdminSession", "Agent", "AuditEntry", "JSONTeamStore", "LoginRefused",
           "MemoryTeamStore", "SessionRecord", "SignedIn", "Team", "TeamStore",
           "TwoStepSetup", "allowed", "open_team_store"]
