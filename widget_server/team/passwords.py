"""Secrets of the team: argon2id password hashes, TOTP codes and recovery codes.

Passwords are hashed with argon2id (argon2-cffi) at RFC 9106's low-memory profile: 64 MiB,
3 passes, 4 lanes (benchmarks/bench_signin.py measures a sign-in with them). At most
HASHING_AT_ONCE hashes run at once in a process, so a burst of sign-ins cannot take
64 MiB per request thread. A sign-in for a name that does not exist verifies against a dummy
hash, so it costs the same as a wrong password.

TOTP (RFC 6238, pyotp): 6 digits, 30-second steps; the current step and one either side are
accepted (clock skew), two away are not, and a step once used is refused (no replay).
Recovery codes are 10 random groups like "k3q9-m2xp-7w4h"; only their SHA-256 is kept and
each works once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

HASHER = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
HASHING_AT_ONCE = 2
MAX_PASSWORD = 1024  # characters; longer attempts are cut before hashing
MIN_PASSWORD = 10
STEP = 30
SKEW_STEPS = 1
RECOVERY_CODES = 10
_slots = threading.BoundedSemaphore(HASHING_AT_ONCE)
_dummy: str | None = None


def check_new_password(password: str) -> str:
    """A new password as given; ValueError when it is too short or too long."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise ValueError(f"a password may have at most {MAX_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    with _slots:
        return HASHER.hash(password[:MAX_PASSWORD])


def verify_password(stored: str | None, attempt: str) -> bool:
    """Whether `attempt` is the password of `stored` (None: no such account, still hashed)."""
    global _dummy
    if stored is None:
        if _dummy is None:
            _dummy = hash_password(secrets.token_urlsafe(16))
        stored = _dummy
        attempt = attempt + "\x00never"
    with _slots:
        try:
            return HASHER.verify(stored, attempt[:MAX_PASSWORD])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def needs_rehash(stored: str) -> bool:
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


# ---------------------------------------------------------------- TOTP


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, name: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=issuer)


def totp_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step `code` belongs to, within SKEW_STEPS of `at` (default now), or None."""
    digits = "".join(code.split())
    if len(digits) != 6 or not digits.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    current = int(now // STEP)
    found = None
    for step in range(current - SKEW_STEPS, current + SKEW_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP), digits):
            found = step
    return found


def new_recovery_codes() -> list[str]:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return ["-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))
            for _ in range(RECOVERY_CODES)]


def recovery_hash(code: str) -> str:
    cleaned = "".join(code.lower().split())
    return hashlib.sha256(cleaned.encode("utf-8")).hexdigest()


def looks_like_recovery(code: str) -> bool:
    return "-" in code and len("".join(code.split())) == 14


__all__ = ["HASHER", "MIN_PASSWORD", "check_new_password", "hash_password",
           "looks_like_recovery", "needs_rehash", "new_recovery_codes", "new_totp_secret",
           "recovery_hash", "totp_step", "totp_uri", "verify_password"]
