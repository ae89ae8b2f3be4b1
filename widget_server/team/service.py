"""The team's use cases: sign-in, server-side sessions, agents and their roles, the audit log.

`Team` is what the server (services.team) and the `deskbell agents` / `deskbell audit`
commands share. Calls block (stores touch disks or PostgreSQL): routes run them on a worker
thread.

Sessions. Signing in stores a SessionRecord under the SHA-256 of a random 256-bit token; the
cookie holds only the token. Each admin request looks the session up (resolve): it ends when
idle longer than `session_idle_minutes`, older than `session_max_hours`, when the agent is
disabled, when the agent signs out everywhere, or when an owner ends it. Each session has its
own CSRF token.

Sign-in limits (README "Team"): every attempt counts against the address (10 per 15 minutes,
Limits.admin_login); failures count against the account, 20 per hour from browsers that never
signed in to it, and separately 10 per 15 minutes per browser that did (a signed "device"
cookie set at each successful sign-in). Windows move: nothing locks forever, and an attack on
an account from elsewhere never locks its owner's own browser out.

Upgrades. An install with only `admin_password` and no agents gets the owner account "owner"
from that password on its first sign-in (or on the first `deskbell agents add`), hashed again
with argon2id; from then on the setting is not read.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import (
    Conflict,
    DeskbellError,
    InsufficientStorage,
    NotFound,
    RateLimited,
    StorageUnavailable,
    ValidationFailed,
)
from ..security import AdminPassword, Limits, sign, unsign
from ..settings import Settings
from ..tickets.validation import clean_email
from . import passwords
from .model import (
    FIRST_OWNER,
    OWNER,
    Actor,
    Agent,
    AuditEntry,
    SessionRecord,
    allowed,
    new_agent,
    now_utc,
    parse_role,
)
from .store import TeamStore

log = logging.getLogger("deskbell.team")
TOUCH_SECONDS = 60  # a session's last_seen is written at most this often
DEVICE_DAYS = 365
ENABLED_CACHE = 5.0


class LoginRefused(DeskbellError):
    """Wrong name, password or code: one answer for all, the reason only in the audit log."""

    status, code = 401, "login_refused"

    def __init__(self, reason: str) -> None:
        super().__init__("Wrong name, password or code.")
        self.reason = reason


@dataclass(frozen=True)
class AdminSession:
    """The signed-in agent of one admin request: `session.agent` (id, name, display_name,
    role) and the session's own CSRF token."""

    record: SessionRecord
    agent: Agent

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def handle(self) -> str:
        return self.record.handle

    @property
    def csrf(self) -> str:
        return self.record.csrf

    def can(self, permission: str) -> bool:
        return self.agent.can(permission)


@dataclass(frozen=True)
class SignedIn:
    token: str  # the cookie's value, shown once
    session: AdminSession
    device: str  # the signed device cookie


@dataclass(frozen=True)
class TwoStepSetup:
    secret: str
    uri: str


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class Team:
    def __init__(self, store: TeamStore, settings: Settings, limits: Limits | None = None,
                 legacy: AdminPassword | None = None, key: bytes = b"",
                 clock: Callable[[], datetime] = now_utc) -> None:
        self.store = store
        self.settings = settings
        self.limits = limits
        self.legacy = legacy if legacy is not None else AdminPassword(settings.admin_password)
        self.key = key or secrets.token_bytes(32)
        self.clock = clock
        self._has_agents: tuple[float, bool] = (0.0, False)
        self._pruned = 0.0
        self._lock = threading.Lock()

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.settings.session_idle_minutes)

    @property
    def lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.session_max_hours)

    # ------------------------------------------------------------ state

    def has_agents(self) -> bool:
        seen_at, known = self._has_agents
        if known or time.monotonic() - seen_at < ENABLED_CACHE and seen_at:
            return known
        known = bool(self.store.agents())
        self._has_agents = (time.monotonic(), known)
        return known

    def enabled(self) -> bool:
        """Whether anyone can sign in: an agent exists, or `admin_password` is set."""
        return self.legacy.enabled or self.has_agents()

    # ------------------------------------------------------------ audit

    def record(self, actor: Actor, action: str, target: str = "", **detail: Any) -> None:
        if actor.name == "cli":
            detail.setdefault("os_user", _os_user())
        self.store.append_audit(AuditEntry(self.clock(), actor.name, actor.agent_id,
                                           actor.ip, action, target, detail))

    def audit(self, since: datetime | None = None) -> list[AuditEntry]:
        return self.store.audit(since)

    def prune(self) -> int:
        """Retention: drop audit entries older than audit_retention_days, and sessions past
        their lifetimes. A store that cannot be written now (a read-only or full disk) is
        logged and left for the next prune: the server still starts and serves reads."""
        now = self.clock()
        self._pruned = time.monotonic()
        try:
            self.store.end_sessions(seen_before=now - self.idle,
                                    created_before=now - self.lifetime)
            return self.store.prune_audit(
                now - timedelta(days=self.settings.audit_retention_days))
        except (StorageUnavailable, InsufficientStorage) as exc:
            log.warning("team: expired sessions and old audit entries not pruned: %s",
                        exc.message)
            return 0

    # ------------------------------------------------------------ sign-in

    def migrate_legacy(self, actor: Actor, password: str | None = None) -> Agent | None:
        """With `admin_password` set and no agent yet, the owner "owner" from it (when
        `password` is given, only if it is that password); None otherwise."""
        if not self.legacy.enabled or self.has_agents() or self.store.agents():
            return None
        if password is not None and not self.legacy.verify(password):
            return None
        # Shown as the site's name, as every reply was before accounts: visitors see no change.
        owner = new_agent(FIRST_OWNER, str(self.settings.site_name), OWNER,
                          passwords.hash_password(self.settings.admin_password))
        try:
            self.store.add_agent(owner)
        except Conflict:
            return None  # another worker or node did it first
        self._has_agents = (time.monotonic(), True)
        self.record(actor, "agent.migrated", owner.name, role=OWNER,
                    note="owner account created from admin_password")
        log.warning("admin_password became the owner account %r; it is not read any more "
                    "(deskbell agents reset-password owner changes it)", owner.name)
        return owner

    def _device_of(self, cookie: str | None, agent: Agent | None) -> str | None:
        payload = unsign(self.key, cookie) if cookie else None
        if payload is None or agent is None or payload.get("a") != agent.id:
            return None
        return str(payload.get("n") or "")

    def sign_in(self, name: str, password: str, code: str = "", ip: str = "",
                user_agent: str = "", device: str | None = None) -> SignedIn:
        """A new session for the agent `name` (default "owner"); LoginRefused, or
        RateLimited while the account's limit is reached."""
        name = (name or FIRST_OWNER).strip().lower()[:40]
        attempt = Actor(name, None, ip)
        agent = self.store.agent_named(name)
        if agent is None and name == FIRST_OWNER:
            agent = self.migrate_legacy(attempt, password) or self.store.agent_named(name)
        known = self._device_of(device, agent)
        limit = None
        if self.limits is not None:
            limit, key = ((self.limits.login_device, f"{name}:{known}") if known
                          else (self.limits.login_account, name))
            try:
                limit.check(key)
            except RateLimited:
                self.record(attempt, "signin.limited", name)
                raise
        try:
            agent = self._check(agent, password, code)
        except LoginRefused as refused:
            self.record(Actor(name, agent.id if agent else None, ip), "signin.failed", name,
                        reason=refused.reason)
            if limit is not None:
                try:
                    limit.hit(key)
                except RateLimited:
                    pass  # this attempt is answered 401; the next one 429
            raise
        if limit is not None:
            limit.reset(key)
        now = self.clock()
        token = secrets.token_urlsafe(32)
        record = SessionRecord(_hash_token(token), agent.id, secrets.token_urlsafe(32), now, now,
                               ip[:64], user_agent[:200])
        self.store.add_session(record)
        self.record(Actor(agent.name, agent.id, ip), "signin.ok", agent.name,
                    session=record.handle)
        if passwords.needs_rehash(agent.password_hash):
            new_hash = passwords.hash_password(password)
            self.store.update_agent(agent.id, lambda a: a.changed(password_hash=new_hash))
        if time.monotonic() - self._pruned > 86400 or not self._pruned:
            self.prune()
        cookie = sign(self.key, {"a": agent.id, "n": known or secrets.token_urlsafe(12),
                                 "exp": int(time.time()) + DEVICE_DAYS * 86400})
        return SignedIn(token, AdminSession(record, agent), cookie)

    def _check(self, agent: Agent | None, password: str, code: str) -> Agent:
        good = passwords.verify_password(agent.password_hash if agent else None, password)
        if agent is None:
            raise LoginRefused("no such agent")
        if not good:
            raise LoginRefused("wrong password")
        if agent.disabled:
            raise LoginRefused("agent disabled")
        if agent.two_step:
            self._use_code(agent, code)
        return agent

    def _use_code(self, agent: Agent, code: str) -> Agent:
        """Spend a two-step code (or a recovery code): LoginRefused when it is wrong, too far
        from now or already used."""
        code = (code or "").strip()
        if not code:
            raise LoginRefused("two-step code missing")
        if passwords.looks_like_recovery(code):
            digest = passwords.recovery_hash(code)

            def spend(a: Agent) -> Agent:
                if not any(hmac.compare_digest(digest, h) for h in a.recovery):
                    raise LoginRefused("wrong recovery code")
                return a.changed(recovery=tuple(h for h in a.recovery if h != digest))
            return self.store.update_agent(agent.id, spend)
        secret = agent.totp_secret
        step = passwords.totp_step(secret, code, self.clock().timestamp()) if secret else None
        if step is None:
            raise LoginRefused("wrong two-step code")

        def use(a: Agent) -> Agent:
            if step <= a.totp_step:
                raise LoginRefused("two-step code used before")
            return a.changed(totp_step=step)
        return self.store.update_agent(agent.id, use)

    # ------------------------------------------------------------ sessions

    def resolve(self, token: str | None) -> AdminSession | None:
        """The live session this cookie token opens, else None (and a dead one is ended)."""
        if not token or len(token) > 256:
            return None
        sid = _hash_token(token)
        record = self.store.session(sid)
        if record is None:
            return None
        now = self.clock()
        agent = self.store.agent(record.agent_id)
        if (now - record.last_seen > self.idle or now - record.created_at > self.lifetime
                or agent is None or agent.disabled):
            self.store.end_sessions(session_id=sid)
            return None
        if (now - record.last_seen).total_seconds() > TOUCH_SECONDS:
            self.store.touch_session(sid, now)
        return AdminSession(record, agent)

    def sign_out(self, session: AdminSession, ip: str) -> None:
        self.store.end_sessions(session_id=session.id)
        self.record(Actor(session.agent.name, session.agent.id, ip), "signout",
                    session.agent.name, session=session.handle)

    def sign_out_everywhere(self, agent: Agent, actor: Actor) -> int:
        ended = self.store.end_sessions(agent_id=agent.id)
        self.record(actor, "sessions.ended", agent.name, count=len(ended))
        return len(ended)

    def end_session(self, handle: str, actor: Actor) -> SessionRecord:
        """An owner (or the CLI) ends one session by its 16-digit handle."""
        handle = handle.strip().lower()
        if len(handle) != 16 or any(c not in "0123456789abcdef" for c in handle):
            raise NotFound(f"no session {handle[:20]!r}")
        ended = self.store.end_sessions(session_id=handle)
        if not ended:
            raise NotFound(f"no open session {handle!r}")
        agent = self.store.agent(ended[0].agent_id)
        self.record(actor, "session.revoked", agent.name if agent else ended[0].agent_id,
                    session=handle)
        return ended[0]

    def sessions(self, agent: Agent | None = None) -> list[SessionRecord]:
        now = self.clock()
        return [s for s in self.store.sessions(agent.id if agent else None)
                if now - s.last_seen <= self.idle and now - s.created_at <= self.lifetime]

    # ------------------------------------------------------------ agents

    def agents(self) -> list[Agent]:
        return self.store.agents()

    def find(self, name_or_id: str) -> Agent:
        text = name_or_id.strip()
        found = (self.store.agent(text) if text.startswith("a_") else None) \
            or self.store.agent_named(text.lower())
        if found is None:
            raise NotFound(f"no agent {text[:40]!r} (deskbell agents list shows them)")
        return found

    def add_agent(self, name: str, display_name: str, role: str, password: str,
                  actor: Actor, email: str = "") -> Agent:
        try:
            agent = new_agent(name, display_name or name, role,
                              passwords.hash_password(passwords.check_new_password(password)))
        except ValueError as exc:
            raise ValidationFailed(str(exc), {"agent": str(exc)}) from None
        if email.strip():
            agent = agent.changed(email=clean_email(email.strip()))
        self.store.add_agent(agent)
        self._has_agents = (time.monotonic(), True)
        self.record(actor, "agent.added", agent.name, role=agent.role,
                    display_name=agent.display_name)
        return agent

    def set_disabled(self, name_or_id: str, disabled: bool, actor: Actor) -> Agent:
        agent = self.find(name_or_id)
        if disabled:
            self._keep_an_owner(agent, lambda a: a.id != agent.id)
        changed = self.store.update_agent(agent.id, lambda a: a.changed(disabled=disabled))
        ended = self.store.end_sessions(agent_id=agent.id) if disabled else []
        self.record(actor, "agent.disabled" if disabled else "agent.enabled", agent.name,
                    sessions_ended=len(ended))
        return changed

    def set_role(self, name_or_id: str, role: str, actor: Actor) -> Agent:
        agent = self.find(name_or_id)
        try:
            chosen = parse_role(role)
        except ValueError as exc:
            raise ValidationFailed(str(exc), {"role": str(exc)}) from None
        if chosen != OWNER:
            self._keep_an_owner(agent, lambda a: a.id != agent.id)
        changed = self.store.update_agent(agent.id, lambda a: a.changed(role=chosen))
        self.record(actor, "agent.role_changed", agent.name, before=agent.role, after=chosen)
        return changed

    def set_email(self, name_or_id: str, email: str, actor: Actor) -> Agent:
        """The address an agent's assignment notices go to ("" for none)."""
        agent = self.find(name_or_id)
        address = email.strip()
        if address:
            address = clean_email(address)
        changed = self.store.update_agent(agent.id, lambda a: a.changed(email=address))
        self.record(actor, "agent.email_changed", agent.name, email=address)
        return changed

    def assignable(self) -> list[Agent]:
        """The agents a ticket may be given to: active, with a role that replies."""
        return [a for a in self.store.agents() if a.can("reply")]

    def reset_password(self, name_or_id: str, password: str, actor: Actor,
                       end_sessions: bool = True) -> Agent:
        agent = self.find(name_or_id)
        try:
            new_hash = passwords.hash_password(passwords.check_new_password(password))
        except ValueError as exc:
            raise ValidationFailed(str(exc), {"password": str(exc)}) from None
        changed = self.store.update_agent(agent.id, lambda a: a.changed(password_hash=new_hash))
        ended = self.store.end_sessions(agent_id=agent.id) if end_sessions else []
        self.record(actor, "agent.password_reset", agent.name, sessions_ended=len(ended))
        return changed

    def _keep_an_owner(self, agent: Agent, others: Callable[[Agent], bool]) -> None:
        if agent.role == OWNER and not any(a.role == OWNER and a.active and others(a)
                                           for a in self.store.agents()):
            raise Conflict(f"{agent.name} is the only active owner: make another agent owner "
                           "first")

    # ------------------------------------------------------------ two-step sign-in

    def totp_begin(self, agent: Agent, issuer: str) -> TwoStepSetup:
        secret = passwords.new_totp_secret()
        self.store.update_agent(agent.id, lambda a: a.changed(totp_pending=secret))
        return TwoStepSetup(secret, passwords.totp_uri(secret, agent.name, issuer))

    def totp_confirm(self, agent: Agent, code: str, actor: Actor) -> list[str]:
        """Turn two-step sign-in on with the pending secret once `code` proves the app has
        it; returns the recovery codes (shown once, only their hashes are kept)."""
        codes = passwords.new_recovery_codes()
        at = self.clock().timestamp()

        def confirm(a: Agent) -> Agent:
            if a.totp_pending is None:
                raise ValidationFailed("start setting up two-step sign-in first",
                                       {"code": "no setup in progress"})
            step = passwords.totp_step(a.totp_pending, code, at)
            if step is None:
                raise ValidationFailed("that code does not match: check the app's clock and "
                                       "type the current code", {"code": "does not match"})
            return a.changed(totp_secret=a.totp_pending, totp_pending=None, totp_step=step,
                             recovery=tuple(passwords.recovery_hash(c) for c in codes))
        self.store.update_agent(agent.id, confirm)
        self.record(actor, "agent.two_step_on", agent.name)
        return codes

    def totp_off(self, agent: Agent, actor: Actor, code: str | None = None) -> Agent:
        """Turn two-step sign-in off; from the admin, `code` (current or recovery) must be
        right; the CLI (the operator, for a lost phone) passes None."""
        if code is not None and agent.two_step:
            try:
                self._use_code(agent, code)
            except LoginRefused:
                raise ValidationFailed("that code does not match", {"code": "wrong"}) from None
        changed = self.store.update_agent(agent.id, lambda a: a.changed(
            totp_secret=None, totp_pending=None, recovery=()))
        self.record(actor, "agent.two_step_off", agent.name)
        return changed

    # ------------------------------------------------------------ replies

    def signature(self, agent: Agent) -> str:
        """The name the visitor sees on this agent's replies (reply_signature)."""
        if self.settings.reply_signature == "team":
            return str(self.settings.site_name)
        return agent.display_name


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container without passwd)
        return ""


__all__ = ["AdminSession", "LoginRefused", "SignedIn", "Team", "TwoStepSetup", "allowed"]
