"""Admin authentication, signed sessions, CSRF tokens and per-IP rate limits.

The admin password is kept only as an scrypt hash in memory and compared in constant time.
Sessions are an HMAC-signed cookie (stdlib only) carrying an expiry and a CSRF token that
every admin form must echo back. The signing key comes from settings.secret_key or is
generated once into `<data_dir>/secret_key` (mode 0600) so sessions survive restarts and are
shared by every worker. Rate limits use the `limits` library in memory: they are per process,
so N workers allow up to N times the configured rate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import secrets
import time
from pathlib import Path
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from .errors import RateLimited

SESSION_COOKIE = "deskbell_admin"
SESSION_SECONDS = 12 * 3600
LOGIN_RATE = "10/15 minutes"
# Failed ticket look-ups per IP: a visitor mistypes a few; a guesser is stopped long before
# 60-bit references could be found.
LOOKUP_FAIL_RATE = "20/10 minutes"


class RateLimit:
    """A moving-window limit per key (an IP address), e.g. "5/minute"."""

    def __init__(self, rate: str, scope: str) -> None:
        try:
            self.item: RateLimitItem = parse(rate)
        except ValueError:
            raise ValueError(f"{rate!r} is not a rate like 5/minute") from None
        self.scope = scope
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, key: str) -> None:
        """Count one request; RateLimited (429 with Retry-After) once the limit is reached."""
        if self._limiter.hit(self.item, self.scope, key):
            return
        reset = self._limiter.get_window_stats(self.item, self.scope, key).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        raise RateLimited(
            f"Too many requests; try again in {wait} seconds",
            {"retry_after": wait}, headers={"Retry-After": str(wait)},
        )

    def check(self, key: str) -> None:
        """RateLimited if `key` has no hits left, without spending one."""
        if not self._limiter.test(self.item, self.scope, key):
            self.hit(key)

    def reset(self, key: str) -> None:
        self._limiter.clear(self.item, self.scope, key)


def limiter(app_state: Any, name: str, rate: str) -> RateLimit:
    """The app's limiter `name`, created on first use (one per app, per process)."""
    limiters: dict[str, RateLimit] | None = getattr(app_state, "deskbell_limiters", None)
    if limiters is None:
        limiters = {}
        app_state.deskbell_limiters = limiters
    if name not in limiters:
        limiters[name] = RateLimit(rate, name)
    return limiters[name]


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


def new_session() -> dict[str, Any]:
    return {"sid": secrets.token_urlsafe(16), "csrf": secrets.token_urlsafe(32),
            "exp": int(time.time()) + SESSION_SECONDS}


def csrf_matches(session: dict[str, Any] | None, submitted: Any) -> bool:
    if not session or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(str(session.get("csrf", "")), submitted)


def safe_next(target: str | None, default: str = "/admin/") -> str:
    """Only local /admin paths: no scheme, no host, no `//evil`, no backslash tricks."""
    if not target or not target.startswith("/admin") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target


__all__ = [
    "LOGIN_RATE",
    "LOOKUP_FAIL_RATE",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "AdminPassword",
    "RateLimit",
    "csrf_matches",
    "limiter",
    "load_secret_key",
    "new_session",
    "safe_next",
    "sign",
    "unsign",
]
