"""Admin authentication helpers, signed cookies, CSRF checks and per-IP rate limits.

The legacy admin password is kept only as an scrypt hash in memory and compared in constant
time. Admin sessions live in the team store (team/service.py), each with a CSRF token that
every admin form must echo back (csrf_matches). `sign`/`unsign` make HMAC-signed values
(stdlib only) carrying an expiry, such as the admin's known-browser cookie. The key (which
also signs reply addresses) comes from settings.secret_key or is generated once into
`<data_dir>/secret_key` (mode 0600) so it survives restarts and is shared by every worker.
Rate limits (`Limits`, built once at start) use the `limits` library: in memory by default,
so N workers allow up to N times the configured rate; with
`rate_limit_storage = "redis://..."` every worker and node shares one count.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from limits import RateLimitItem, parse
from limits.errors import ConfigurationError, StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from .errors import DeskbellError, RateLimited
from .settings import Settings, SettingsError

SESSION_COOKIE = "deskbell_admin"
log = logging.getLogger("deskbell")
LOGIN_RATE = "10/15 minutes"
# Failed sign-ins per account: from browsers that never signed in to it, and per browser that
# did (team/service.py). Moving windows: an account is never locked for good.
ACCOUNT_LOGIN_RATE = "20/hour"
DEVICE_LOGIN_RATE = "10/15 minutes"
# Failed ticket look-ups per IP: a visitor mistypes a few; a guesser is stopped long before
# 60-bit references could be found.
LOOKUP_FAIL_RATE = "20/10 minutes"


class RateLimit:
    """A moving-window limit per key (an IP address, a widget session), e.g. "5/minute".

    `refusal` opens the 429 message ("Too many requests"); a hit may cost more than one.
    With a shared `storage` (Redis), every worker and node counts against one limit; while
    it cannot be reached, `local` (this process's own memory) counts instead, or, when
    `local` is None, the request is refused with a 503 (fail closed)."""

    def __init__(self, rate: str, scope: str, storage: Storage | None = None,
                 refusal: str = "Too many requests", local: Storage | None = None,
                 outage: Outage | None = None) -> None:
        try:
            self.item: RateLimitItem = parse(rate)
        except ValueError:
            raise ValueError(f"{rate!r} is not a rate like 5/minute") from None
        self.scope = scope
        self.refusal = refusal
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())
        self._local = MovingWindowRateLimiter(local) if local is not None else None
        self._outage = outage or Outage()

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            result = getattr(self._limiter, method)(*args, **kwargs)
        except StorageError as exc:
            self._outage.down(exc)
            if self._local is None:
                raise RateLimitsUnavailable(
                    "Requests are paused while the rate-limit store is unreachable; "
                    "please try again shortly") from None
            return getattr(self._local, method)(*args, **kwargs)
        self._outage.up()
        return result

    def hit(self, key: str, cost: int = 1) -> None:
        """Count `cost` requests; RateLimited (429 with Retry-After) once the limit is reached."""
        if cost <= 0 or self._call("hit", self.item, self.scope, key, cost=cost):
            return
        reset = self._call("get_window_stats", self.item, self.scope, key).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        raise RateLimited(
            f"{self.refusal}; try again in {wait} seconds",
            {"retry_after": wait}, headers={"Retry-After": str(wait)},
        )

    def check(self, key: str) -> None:
        """RateLimited if `key` has no hits left, without spending one."""
        if not self._call("test", self.item, self.scope, key):
            self.hit(key)

    def reset(self, key: str) -> None:
        self._call("clear", self.item, self.scope, key)


class RateLimitsUnavailable(DeskbellError):
    status, code = 503, "rate_limits_unavailable"


class Outage:
    """Logs once when the shared rate-limit store goes away and once when it is back."""

    def __init__(self) -> None:
        self._down = False
        self._lock = threading.Lock()

    def down(self, exc: Exception) -> None:
        with self._lock:
            if not self._down:
                self._down = True
                log.error("rate limits: the shared store is unreachable (%s)", exc)

    def up(self) -> None:
        if self._down:
            with self._lock:
                if self._down:
                    self._down = False
                    log.warning("rate limits: the shared store is reachable again")


def open_limit_storage(url: str) -> Storage:
    """memory:// or a Redis URL as a `limits` storage; a SettingsError names what is wrong."""
    if url == "memory://":
        return MemoryStorage()
    try:
        storage = storage_from_string(url, wrap_exceptions=True, key_prefix="deskbell")
    except ConfigurationError as exc:
        raise SettingsError(f"setting rate_limit_storage: {exc} (install deskbell[redis])") \
            from None
    if not isinstance(storage, Storage) or not storage.check():
        where = urlsplit(url).netloc.rpartition("@")[2] or url.partition("://")[2]
        raise SettingsError(f"setting rate_limit_storage: cannot reach Redis at {where}")
    return storage


@dataclass(frozen=True)
class Limits:
    """Every rate limit of one server process, built once from settings."""

    api: RateLimit            # API requests per IP
    tickets: RateLimit        # tickets opened per IP
    ticket_lookup: RateLimit  # failed ticket look-ups per IP
    events: RateLimit         # event batches per IP
    event_sessions: RateLimit  # events per widget session (a batch of 20 costs 20)
    admin_login: RateLimit    # admin login attempts per IP
    login_account: RateLimit  # failed sign-ins per account, from unknown browsers
    login_device: RateLimit   # failed sign-ins per account and known browser
    storage: Storage          # where they are counted (memory, or Redis shared by nodes)

    def check(self) -> None:
        """Raise RateLimitsUnavailable if the shared store does not answer."""
        try:
            answered = self.storage.check()
        except Exception:  # a dropped connection may raise instead of answering False
            answered = False
        if not answered:
            raise RateLimitsUnavailable("the rate-limit store does not answer")

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        storage = open_limit_storage(settings.rate_limit_storage)
        shared = settings.rate_limit_storage != "memory://"
        local = MemoryStorage() if shared and settings.rate_limit_when_down == "local" else None
        outage = Outage()

        def limit(rate: str, scope: str, refusal: str = "Too many requests") -> RateLimit:
            return RateLimit(rate, scope, storage, refusal, local, outage)

        return cls(
            api=limit(settings.api_rate_limit, "api"),
            tickets=limit(settings.ticket_rate_limit, "tickets"),
            ticket_lookup=limit(LOOKUP_FAIL_RATE, "ticket-lookup"),
            events=limit(settings.events_rate_limit, "events"),
            event_sessions=limit(settings.events_session_limit, "events-session",
                                 "This session sent too many events"),
            admin_login=limit(LOGIN_RATE, "admin-login"),
            login_account=limit(ACCOUNT_LOGIN_RATE, "login-account",
                                "Too many failed sign-ins for this account"),
            login_device=limit(DEVICE_LOGIN_RATE, "login-device",
                               "Too many failed sign-ins for this account"),
            storage=storage,
        )


# ---------------------------------------------------------------- password


class AdminPassword:
    """The admin password as an scrypt hash held in memory only."""

    def __init__(self, password: str) -> None:
        self.enabled = bool(password)
        self._salt = secrets.token_bytes(16)
        self._hash = self._derive(password) if password else b""

    def _derive(self, password: str) -> bytes:
        data = password.encode("utf-8", "surrogatepass")
        return hashlib.scrypt(data, salt=self._salt, n=2**14, r=8, p=1, dklen=32)

    def verify(self, attempt: str) -> bool:
        # Always derive, so a wrong password costs the same as a right one.
        candidate = self._derive(attempt[:1024])
        return self.enabled and hmac.compare_digest(candidate, self._hash)


# ---------------------------------------------------------------- signing key and sessions


def load_secret_key(configured: str, data_dir: Path) -> bytes:
    """settings.secret_key, else the key in <data_dir>/secret_key (created 0600 if absent)."""
    if configured:
        return configured.encode("utf-8")
    path = Path(data_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text("ascii").strip().encode("ascii")
    with os.fdopen(fd, "w") as fh:  # O_EXCL: of two workers starting at once, one writes
        fh.write(secrets.token_urlsafe(48))
        fh.flush()
        os.fsync(fh.fileno())
    return path.read_text("ascii").strip().encode("ascii")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    mac = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unsign(key: bytes, value: str | None) -> dict[str, Any] | None:
    """The payload of a cookie we signed and that has not expired, else None."""
    if not value or value.count(".") != 1 or len(value) > 4096:
        return None
    body, mac = value.split(".")
    expected = _b64(hmac.new(key, body.encode("ascii", "replace"), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, mac):
        return None
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int | float):
        return None
    return payload if payload["exp"] > time.time() else None


def csrf_matches(expected: str, submitted: Any) -> bool:
    """Whether `submitted` is `expected`, a session's CSRF token."""
    if not expected or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(expected, submitted)


def safe_next(target: str | None, default: str = "/admin/") -> str:
    """Only local /admin paths: no scheme, no host, no `//evil`, no backslash tricks."""
    if not target or not target.startswith("/admin") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target


@dataclass(frozen=True)
class AdminAuth:
    """The legacy admin password (the first owner's, see team/service.py) and the key that
    signs the admin's cookies and reply addresses, loaded once at start."""

    password: AdminPassword
    key: bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> AdminAuth:
        return cls(AdminPassword(settings.admin_password),
                   load_secret_key(settings.secret_key, settings.data_dir))


__all__ = [
    "AdminAuth",
    "Limits",
    "LOGIN_RATE",
    "LOOKUP_FAIL_RATE",
    "SESSION_COOKIE",
    "AdminPassword",
    "RateLimit",
    "csrf_matches",
    "load_secret_key",
    "safe_next",
    "sign",
    "unsign",
]
