"""The team's records: agents with a role, the sessions they are signed in with, audit entries.

Roles and what each may do (README "Team"; every admin route declares the permission it
needs, and tests/test_team_roles.py walks every route with every role):

    owner      everything: agents, sessions of everyone, notices, exports, erasure, insights
    agent      the inbox: read tickets, reply, add notes, change statuses; insights read-only
    read-only  read tickets and insights; no replies, notes or status changes

Permissions are what a route asks for: READ (any role), REPLY (owner, agent), MANAGE (owner).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

OWNER, AGENT, READ_ONLY = "owner", "agent", "read-only"
ROLES = (OWNER, AGENT, READ_ONLY)
READ, REPLY, MANAGE = "read", "reply", "manage"
PERMISSIONS: dict[str, frozenset[str]] = {
    OWNER: frozenset({READ, REPLY, MANAGE}),
    AGENT: frozenset({READ, REPLY}),
    READ_ONLY: frozenset({READ}),
}
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
FIRST_OWNER = "owner"  # the account an admin_password-only install becomes


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_role(value: str) -> str:
    """A role by its name ("readonly" and "read_only" are read-only too); ValueError if none."""
    text = value.strip().lower().replace("_", "-")
    text = READ_ONLY if text == "readonly" else text
    if text not in ROLES:
        raise ValueError(f"unknown role {value!r}: choose one of {', '.join(ROLES)}")
    return text


def parse_name(value: str) -> str:
    """A sign-in name: lower-case letters, digits, dot, dash, underscore; at most 40."""
    text = value.strip().lower()
    if not NAME.match(text):
        raise ValueError(f"{value!r} is not a sign-in name: use 1-40 lower-case letters, "
                         "digits, '.', '-' or '_'")
    return text


def allowed(role: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(role, frozenset())


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class Agent:
    """One account. `password_hash` is argon2id (passwords.py); `totp_secret` is set once
    two-step sign-in is confirmed, `totp_pending` while it is being set up; `totp_step` is the
    last time step a code was accepted for (a code is never accepted twice); `recovery` holds
    the SHA-256 of each unused recovery code."""

    id: str
    name: str
    display_name: str
    role: str
    password_hash: str
    created_at: datetime
    disabled: bool = False
    totp_secret: str | None = None
    totp_pending: str | None = None
    totp_step: int = 0
    recovery: tuple[str, ...] = ()
    email: str = ""  # where assignment notices go; none sent without one

    @property
    def active(self) -> bool:
        return not self.disabled

    @property
    def two_step(self) -> bool:
        return self.totp_secret is not None

    def can(self, permission: str) -> bool:
        return self.active and allowed(self.role, permission)

    def changed(self, **changes: Any) -> Agent:
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["recovery"] = list(self.recovery)
        return data

    def public(self) -> dict[str, Any]:
        """What listings show: never a hash or a secret."""
        return {"id": self.id, "name": self.name, "display_name": self.display_name,
                "role": self.role, "disabled": self.disabled, "two_step": self.two_step,
                "email": self.email, "created_at": self.created_at.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Agent:
        created = _time(data["created_at"])
        assert created is not None
        return cls(id=str(data["id"]), name=str(data["name"]),
                   display_name=str(data["display_name"]), role=str(data["role"]),
                   password_hash=str(data["password_hash"]), created_at=created,
                   disabled=bool(data.get("disabled", False)),
                   totp_secret=data.get("totp_secret"), totp_pending=data.get("totp_pending"),
                   totp_step=int(data.get("totp_step") or 0),
                   recovery=tuple(data.get("recovery") or ()),
                   email=str(data.get("email") or ""))


def new_agent(name: str, display_name: str, role: str, password_hash: str) -> Agent:
    return Agent(id="a_" + secrets.token_hex(6), name=parse_name(name),
                 display_name=display_name.strip()[:80] or name, role=parse_role(role),
                 password_hash=password_hash, created_at=now_utc())


@dataclass(frozen=True)
class SessionRecord:
    """A signed-in browser. `id` is the SHA-256 of the cookie's random token (the token
    itself is never stored); `handle` is its first 16 hex digits, what listings show and
    an owner ends it by."""

    id: str
    agent_id: str
    csrf: str
    created_at: datetime
    last_seen: datetime
    ip: str = ""
    user_agent: str = ""

    @property
    def handle(self) -> str:
        return self.id[:16]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["last_seen"] = self.last_seen.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionRecord:
        created, seen = _time(data["created_at"]), _time(data["last_seen"])
        assert created is not None and seen is not None
        return cls(id=str(data["id"]), agent_id=str(data["agent_id"]), csrf=str(data["csrf"]),
                   created_at=created, last_seen=seen, ip=str(data.get("ip") or ""),
                   user_agent=str(data.get("user_agent") or ""))


@dataclass(frozen=True)
class Actor:
    """Who did something, for the audit log: an agent from an address, or the command line
    ("cli", with the operating-system user in `detail`), or nobody yet (a failed sign-in)."""

    name: str
    agent_id: str | None = None
    ip: str = ""

    @classmethod
    def cli(cls) -> Actor:
        return cls("cli", None, "cli")


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    agent_id: str | None
    ip: str
    action: str
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "actor": self.actor, "agent_id": self.agent_id,
                "ip": self.ip, "action": self.action, "target": self.target,
                "detail": dict(self.detail)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEntry:
        at = _time(data["at"])
        assert at is not None
        return cls(at=at, actor=str(data["actor"]), agent_id=data.get("agent_id"),
                   ip=str(data.get("ip") or ""), action=str(data["action"]),
                   target=str(data.get("target") or ""), detail=dict(data.get("detail") or {}))


__all__ = ["AGENT", "FIRST_OWNER", "MANAGE", "OWNER", "PERMISSIONS", "READ", "READ_ONLY",
           "REPLY", "ROLES", "Actor", "Agent", "AuditEntry", "SessionRecord", "allowed",
           "new_agent", "now_utc", "parse_name", "parse_role"]
