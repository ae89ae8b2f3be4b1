"""Signed visitor identity: the site vouches for who the visitor is, so they see their tickets.

The site's own server knows its signed-in user. It computes

    signature = HMAC-SHA256(identity_secret, user_id or email)   (64 lowercase hex digits)

and the page passes `Deskbell('identify', {email, name, user_id, signature})` to the widget.
Deskbell recomputes the signature and compares in constant time. A verified identity owns:

- with a `user_id`: the tickets opened while signed in as that user_id (the email is then the
  site's word only, never proof: a user may change it, and it is not what was signed);
- with only an `email`: every ticket opened with that email, from any device.

Anything else (no secret configured, no signature, a forged, truncated, upper-case or
another person's signature, a malformed claim) is simply no identity: `verify` returns None
and every caller answers exactly as it would with no identity at all. Nothing here tells
the caller *why* a claim failed; the operator finds that in the log at debug level.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from .errors import ValidationFailed
from .tickets.model import Ticket
from .tickets.store import owned
from .tickets.validation import clean_email, clean_text

log = logging.getLogger("deskbell.identity")
SIGNATURE = re.compile(r"[0-9a-f]{64}")
USER_ID_MAX = 128
HEADER_MAX = 2048  # an Authorization: Identity header; a claim is a few hundred bytes


@dataclass(frozen=True)
class Identity:
    """A visitor the site signed: `user_id` when the site signed one, else None."""

    email: str
    user_id: str | None = None
    name: str = ""

    def owns(self, ticket: Ticket) -> bool:
        return owned(ticket, self.email, self.user_id)


def sign(secret: str, subject: str) -> str:
    """The signature a site computes for `subject` (its user_id, or the email)."""
    return hmac.new(secret.encode("utf-8"), subject.encode("utf-8"), hashlib.sha256).hexdigest()


def _field(claim: dict[str, Any], name: str, lo: int, hi: int) -> str:
    value = claim.get(name)
    return "" if value is None and lo == 0 else clean_text(value, name, lo, hi)


def _exact_id(value: Any) -> str | None:
    """The user_id exactly as the site signed it (never trimmed or normalized, so "7 " and
    "7" stay two users), or None when there is none; ValidationFailed when it is unusable."""
    if value is None:
        return None
    clean_text(value, "user_id", 1, USER_ID_MAX)  # a string, no controls, not too long
    return str(value)


def verify(secret: str, claim: Any) -> Identity | None:
    """The identity `claim` ({email, name?, user_id?, signature}) proves, or None.

    The signature covers the user_id when one is given, else the email exactly as sent.
    Every failure is None, whatever its cause, after the same constant-time comparison."""
    if not isinstance(claim, dict):
        return None
    signature = claim.get("signature")
    try:
        email = clean_email(claim.get("email"))
        name = _field(claim, "name", 0, 100)
        user_id = _exact_id(claim.get("user_id"))
    except ValidationFailed as exc:
        log.debug("identity refused: %s", exc.message)
        return None
    subject = user_id if user_id is not None else claim.get("email")
    given = signature if isinstance(signature, str) and SIGNATURE.fullmatch(signature) else ""
    expected = sign(secret or "-", str(subject))
    # compare_digest runs whatever `given` is; an empty secret never verifies anything.
    if not (hmac.compare_digest(expected, given or "0" * 64) and secret and given):
        log.debug("identity refused: signature does not match")
        return None
    return Identity(email=email, user_id=user_id, name=name)


def from_header(secret: str, value: str) -> Identity | None:
    """The identity in an `Authorization: Identity <base64url of the JSON claim>` value."""
    if len(value) > HEADER_MAX:
        return None
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
        claim = json.loads(text)
    except (binascii.Error, ValueError):
        return None
    return verify(secret, claim)


__all__ = ["Identity", "from_header", "sign", "verify"]
