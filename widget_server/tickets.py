"""Tickets: validating what a visitor sends, and the TicketStore that keeps them safe.

Layout under `<data_dir>/tickets/` (all files TinyDB-shaped JSON, written by AtomicJSONStorage):

    p000001.json …   partitions of about `partition_bytes` (128 KiB, some 60 tickets); new
                     tickets go to the newest one, so a write costs the same at 1,000 or
                     100,000 tickets; a full partition is only rewritten to change a ticket
    index/ab.json    256 small shards mapping reference -> partition number
    .lock            one filelock held across every read-modify-write, by every process

A ticket is written in two steps under the lock: its index entry first, then the ticket.
A crash between them leaves an index entry that points at nothing, which reads as "not
found" — and that ticket was never acknowledged. Readers take no lock: every file is
swapped in whole, so they always see a complete generation.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from tinydb import Query, TinyDB

from .errors import Conflict, NotFound, StorageUnavailable, ValidationFailed
from .ticket_storage import AtomicJSONStorage, read_json, storage_error, write_json_atomic

STATUSES = ("new", "open", "pending", "solved", "closed")
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_PARTITION = re.compile(r"^p(\d{6})\.json$")
_TABLE = "_default"
CACHE_FILES = 512  # parsed files kept per process: all 256 index shards plus recent partitions
SUMMARY_FIELDS = ("reference", "status", "name", "email", "subject", "message", "category",
                  "created_at", "updated_at", "first_reply_at", "solved_at")

Ticket = dict[str, Any]


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def new_reference() -> str:
    """A public reference like DB-7K3Q-M9XP-2W4H: 60 random bits, unrelated to storage ids."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"DB-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(ticket: Ticket | None, token: str) -> bool:
    """Constant-time check; a missing ticket still costs a comparison (same answer, same time)."""
    expected = ticket["token_hash"] if ticket else "0" * 64
    return hmac.compare_digest(expected, hash_token(token)) and ticket is not None


# ---------------------------------------------------------------- validation of visitor input

# Letters beyond ASCII are welcome in addresses, but not blank space, controls or surrogates.
_U = "\u00a1-\u167f\u1681-\u1fff\u200b-\u2027\u202a-\u202e\u2030-\u205e\u2060-\u2fff" \
     "\u3001-\ud7ff\ue000-\uffff"
_LOCAL = f"[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~{_U}-]+"
_LABEL = f"[A-Za-z0-9{_U}](?:[A-Za-z0-9{_U}-]*[A-Za-z0-9{_U}])?"
# One pattern for the server and the OpenAPI spec: a dotted domain, at most 64 chars before @.
EMAIL_PATTERN = f"^(?=[^@]{{1,64}}@){_LOCAL}(?:\\.{_LOCAL})*@(?:{_LABEL}\\.)+[A-Za-z{_U}]{{2,63}}$"
_EMAIL = re.compile(EMAIL_PATTERN)
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}$")
_SESSION = re.compile(r"^s_[A-Za-z0-9_-]{8,64}$")
_SINGLE_LINE_OK: set[str] = set()
_MULTI_LINE_OK = {"\n", "\r", "\t"}
TICKET_FIELDS = {"name", "email", "subject", "message", "page_url", "trail", "locale",
                 "website", "elapsed_ms"}
MIN_FILL_MS = 1500
TRAIL_LIST_MAX = 50
TRAIL_TEXT_MAX = 500


def _invalid(details: dict[str, str]) -> ValidationFailed:
    """A 422 whose message names the field, e.g. "email: must be an email address"."""
    field, problem = next(iter(details.items()))
    return ValidationFailed(f"{field}: {problem}", details)


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(value: Any, field: str, lo: int, hi: int, *, multiline: bool = False) -> str:
    """NFC-normalized text of lo..hi characters, free of control characters and lone surrogates.

    Raises ValidationFailed naming `field`. Bidi overrides (U+202E) are allowed: they are
    legitimate in RTL text, and every place that shows text isolates it instead.
    """
    if not isinstance(value, str):
        raise _invalid({field: "must be a string"})
    if _has_lone_surrogate(value):
        raise _invalid({field: "contains an invalid character"})
    text = unicodedata.normalize("NFC", value).strip()
    allowed = _MULTI_LINE_OK if multiline else _SINGLE_LINE_OK
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in text):
        raise _invalid({field: "must not contain control characters"})
    if len(text) < lo:
        raise _invalid({field: "is required" if lo == 1 else "too short"})
    if len(text) > hi:
        raise _invalid({field: f"must be at most {hi} characters"})
    return text


def clean_email(value: Any) -> str:
    text = clean_text(value, "email", 3, 254)
    if not _EMAIL.match(text):
        raise _invalid({"email": "must be an email address"})
    local, domain = text.split("@")
    return f"{local}@{domain.lower()}"


def clean_url(value: Any, field: str) -> str:
    text = clean_text(value, field, 0, 2000)
    if text and not text.lower().startswith(("http://", "https://")):
        raise _invalid({field: "must be an http(s) URL"})
    return text


def _trail_text(value: Any, field: str, lo: int = 0) -> str:
    return clean_text(value, field, lo, TRAIL_TEXT_MAX)


def _trail_time(value: Any, field: str) -> str:
    text = _trail_text(value, field)
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid({field: "must be an ISO 8601 time"}) from None
    return text


def whole(value: Any) -> int | None:
    """An integer, also when JSON spells it 7.0 (JSON Schema counts that as an integer)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _trail_int(value: Any, field: str) -> int:
    number = whole(value)
    if number is None or not 0 <= number <= 10**9:
        raise _invalid({field: "must be a whole number >= 0"})
    return number


def _trail_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid({field: "must be true or false"})
    return value


def _trail_source(value: Any, field: str) -> str:
    if value not in {"search", "suggestion", "link", "api"}:
        raise _invalid({field: "must be search, suggestion, link or api"})
    return str(value)


_TRAIL_ITEMS: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "searches": {"q": _trail_text, "results": _trail_int, "at": _trail_time},
    "articles": {"slug": _trail_text, "title": _trail_text, "source": _trail_source,
                 "at": _trail_time},
    "votes": {"slug": _trail_text, "helpful": _trail_bool, "at": _trail_time},
}


def _clean_items(items: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise _invalid({f"trail.{name}": "must be a list"})
    if len(items) > TRAIL_LIST_MAX:
        raise _invalid({f"trail.{name}": f"at most {TRAIL_LIST_MAX} entries"})
    fields = _TRAIL_ITEMS[name]
    cleaned = []
    for i, item in enumerate(items):
        where = f"trail.{name}[{i}]"
        if not isinstance(item, dict):
            raise _invalid({where: "must be an object"})
        for key in item.keys() - fields.keys():
            raise _invalid({f"{where}.{key}": "unknown field"})
        cleaned.append({k: parse(item[k], f"{where}.{k}") for k, parse in fields.items()
                        if k in item})
    return cleaned


def clean_trail(value: Any) -> dict[str, Any]:
    """The visitor's self-service trail, each list and string within its size limit."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid({"trail": "must be an object"})
    known = {"session", "page_url", *_TRAIL_ITEMS}
    for key in value.keys() - known:
        raise _invalid({f"trail.{key}": "unknown field"})
    trail: dict[str, Any] = {}
    if "session" in value:
        session = _trail_text(value["session"], "trail.session")
        if session and not _SESSION.match(session):
            raise _invalid({"trail.session": "malformed session id"})
        trail["session"] = session
    if "page_url" in value:
        trail["page_url"] = clean_url(value["page_url"], "trail.page_url")[:TRAIL_TEXT_MAX]
    for name in _TRAIL_ITEMS:
        if name in value:
            trail[name] = _clean_items(value[name], name)
    return trail


def is_spam_trap(body: Any) -> bool:
    """True when the hidden `website` field was filled: a bot, answered as if all went well."""
    return isinstance(body, dict) and bool(body.get("website"))


def clean_new_ticket(body: Any) -> dict[str, Any]:
    """Validate a ticket request body; returns the cleaned fields or raises ValidationFailed."""
    if not isinstance(body, dict):
        raise _invalid({"body": "must be a JSON object"})
    for key in sorted(body.keys() - TICKET_FIELDS):
        raise _invalid({key: "unknown field"})
    elapsed = body.get("elapsed_ms")
    if elapsed is not None:
        if isinstance(elapsed, bool) or not isinstance(elapsed, int | float):
            raise _invalid({"elapsed_ms": "must be a number"})
        if elapsed < MIN_FILL_MS:
            raise ValidationFailed("form submitted too fast", {"elapsed_ms": "too fast"})
    locale = clean_text(body.get("locale", "en") or "en", "locale", 2, 35)
    if not _LOCALE.match(locale):
        raise _invalid({"locale": "must be a language tag like pt-BR"})
    return {
        "name": clean_text(body.get("name"), "name", 1, 100),
        "email": clean_email(body.get("email")),
        "subject": clean_text(body.get("subject"), "subject", 1, 200),
        "message": clean_text(body.get("message"), "message", 1, 10000, multiline=True),
        "page_url": clean_url(body.get("page_url") or "", "page_url"),
        "locale": locale,
        "trail": clean_trail(body.get("trail")),
    }


def new_ticket(fields: dict[str, Any], category: str = "") -> tuple[Ticket, str]:
    """A fresh ticket document and its secret token (shown once, only the hash is stored)."""
    token = secrets.token_urlsafe(32)
    at = now_iso()
    page_url = fields["page_url"] or fields["trail"].get("page_url", "")
    ticket: Ticket = {
        "reference": new_reference(), "token_hash": hash_token(token),
        "name": fields["name"], "email": fields["email"], "subject": fields["subject"],
        "message": fields["message"], "page_url": page_url, "category": category,
        "locale": fields["locale"], "trail": fields["trail"], "status": "new",
        "created_at": at, "updated_at": at, "first_reply_at": None, "solved_at": None,
        "closed_at": None, "resolution_count": 0, "ratings": [],
        "thread": [_entry("visitor", fields["name"], fields["message"], at)],
    }
    return ticket, token


def _entry(author: str, author_name: str, body: str, at: str) -> dict[str, str]:
    return {"id": secrets.token_hex(6), "author": author, "author_name": author_name,
            "body": body, "at": at}


# ---------------------------------------------------------------- changes to one ticket


def apply_status(ticket: Ticket, status: str, at: str) -> None:
    if status not in STATUSES:
        raise _invalid({"status": f"must be one of {', '.join(STATUSES)}"})
    if status == "solved" and ticket["status"] != "solved":
        ticket["resolution_count"] += 1
        ticket["solved_at"] = at
    if status == "closed" and ticket["status"] != "closed":
        ticket["closed_at"] = at
    ticket["status"] = status


def add_reply(ticket: Ticket, author: str, author_name: str, body: str,
              status: str | None = None) -> dict[str, str]:
    """Append a message. Agent replies start the first-response clock; notes change nothing."""
    at = now_iso()
    entry = _entry(author, author_name, body, at)
    if author == "visitor":
        if ticket["status"] == "closed":
            raise Conflict("this ticket is closed; please open a new one")
        if ticket["status"] in {"pending", "solved"}:
            ticket["status"] = "open"  # the visitor answered or came back: it needs an agent
    elif author == "agent":
        ticket["first_reply_at"] = ticket["first_reply_at"] or at
        apply_status(ticket, status or "pending", at)
    elif status:
        apply_status(ticket, status, at)
    ticket["thread"].append(entry)
    ticket["updated_at"] = at
    return entry


def can_rate(ticket: Ticket) -> bool:
    current = ticket["resolution_count"]
    rated = any(r["resolution"] == current for r in ticket["ratings"])
    return ticket["status"] == "solved" and not rated


def clean_rating(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _invalid({"body": "must be a JSON object"})
    for key in sorted(body.keys() - {"csat", "ces", "nps", "comment"}):
        raise _invalid({key: "unknown field"})
    csat, ces, nps = whole(body.get("csat")), whole(body.get("ces")), whole(body.get("nps"))
    if csat is None or not 1 <= csat <= 5:
        raise _invalid({"csat": "must be a whole number from 1 to 5"})
    if body.get("ces") is not None and (ces is None or not 1 <= ces <= 7):
        raise _invalid({"ces": "must be a whole number from 1 to 7"})
    if body.get("nps") is not None and (nps is None or not 0 <= nps <= 10):
        raise _invalid({"nps": "must be a whole number from 0 to 10"})
    comment = clean_text(body.get("comment") or "", "comment", 0, 2000, multiline=True)
    return {"csat": csat, "ces": ces, "nps": nps, "comment": comment}


def add_rating(ticket: Ticket, rating: dict[str, Any]) -> dict[str, Any]:
    if not can_rate(ticket):
        raise Conflict("this ticket can be rated once each time it is solved")
    stored = {**rating, "at": now_iso(), "resolution": ticket["resolution_count"]}
    ticket["ratings"].append(stored)
    return stored


# ---------------------------------------------------------------- the store


class TicketStore:
    """Tickets on disk, safe for any number of processes (see module docstring)."""

    def __init__(self, data_dir: str | Path, *, partition_bytes: int = 128 * 1024,
                 partition_size: int | None = None, lock_timeout: float = 30.0) -> None:
        self.root = Path(data_dir) / "tickets"
        self.partition_bytes = partition_bytes
        self.partition_size = partition_size  # a ticket-count cap too (tests use tiny ones)
        try:
            (self.root / "index").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(self.root, exc) from exc
        self._lock = FileLock(str(self.root / ".lock"), timeout=lock_timeout)
        self._cache: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}
        self.check()

    # -- files

    def check(self) -> None:
        """Parse every index shard and the newest partition; CorruptStore names a bad file."""
        for shard in sorted((self.root / "index").glob("*.json")):
            self._read(shard)
        numbers = self._partitions()
        if numbers:
            self._read(self._partition_path(numbers[-1]))

    def verify(self) -> int:
        """Parse every file of the store (slow on big stores); returns the ticket count."""
        self.check()
        return sum(1 for _ in self.iter_tickets())

    def _partition_path(self, number: int) -> Path:
        return self.root / f"p{number:06d}.json"

    def _shard_path(self, reference: str) -> Path:
        digest = hashlib.sha256(reference.encode("ascii", "replace")).hexdigest()
        return self.root / "index" / f"{digest[:2]}.json"

    def _partitions(self) -> list[int]:
        names = (_PARTITION.match(n) for n in os.listdir(self.root))
        return sorted(int(m.group(1)) for m in names if m)

    def _read(self, path: Path) -> dict[str, Any]:
        """The parsed file, cached until it is replaced (every write makes a new inode)."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return {}
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._cache.pop(path, None)
        data = cached[1] if cached and cached[0] == key else read_json(path) or {}
        self._cache[path] = (key, data)  # re-inserted last: the dict's order is recency
        if len(self._cache) > CACHE_FILES:
            del self._cache[next(iter(self._cache))]
        return data

    def _db(self, number: int) -> TinyDB:
        return TinyDB(self._partition_path(number), storage=AtomicJSONStorage)

    def _acquire(self) -> None:
        try:
            self._lock.acquire()
        except Timeout:
            raise StorageUnavailable("the ticket store is busy; try again shortly") from None
        except OSError as exc:
            raise storage_error(self.root / ".lock", exc) from exc

    # -- reads (no lock: files are swapped in whole)

    def _locate(self, reference: str) -> int | None:
        refs = self._read(self._shard_path(reference)).get("refs", {})
        number = refs.get(reference)
        return number if isinstance(number, int) else None

    def _docs(self, number: int) -> dict[str, Ticket]:
        return self._read(self._partition_path(number)).get(_TABLE, {})

    def get(self, reference: str) -> Ticket | None:
        """A copy of the ticket, or None when there is no such (acknowledged) ticket."""
        if not isinstance(reference, str) or len(reference) > 40:
            return None
        number = self._locate(reference)
        if number is None:
            return None
        for doc in self._docs(number).values():
            if doc.get("reference") == reference:
                return copy.deepcopy(doc)
        return None

    def iter_tickets(self) -> Iterator[Ticket]:
        """Every ticket, oldest partition first (copies)."""
        for number in self._partitions():
            for doc in list(self._docs(number).values()):
                yield copy.deepcopy(doc)

    def iter_summaries(self) -> Iterator[dict[str, Any]]:
        """The fields an inbox lists and searches, without copying whole tickets and trails."""
        for number in self._partitions():
            for doc in list(self._docs(number).values()):
                yield {k: doc.get(k) for k in SUMMARY_FIELDS}

    def count(self) -> int:
        return sum(len(self._docs(n)) for n in self._partitions())

    # -- writes (locked, re-read after acquiring)

    def add(self, ticket: Ticket) -> Ticket:
        """Store a new ticket durably; returns once it is on disk."""
        self._acquire()
        try:
            while self._locate(ticket["reference"]) is not None:
                ticket["reference"] = new_reference()  # 2^60 space: practically never loops
            number = self._head_for_insert()
            self._set_index({ticket["reference"]: number})
            self._db(number).insert(ticket)
        finally:
            self._lock.release()
        return ticket

    def _head_for_insert(self) -> int:
        numbers = self._partitions()
        head = numbers[-1] if numbers else 1
        path = self._partition_path(head)
        # The size is one stat; counting tickets would mean parsing the partition once more.
        full = path.exists() and path.stat().st_size >= self.partition_bytes
        if full or (self.partition_size and len(self._docs(head)) >= self.partition_size):
            head += 1
        return head

    def _set_index(self, changes: dict[str, int | None]) -> None:
        by_shard: dict[Path, dict[str, int | None]] = {}
        for reference, number in changes.items():
            by_shard.setdefault(self._shard_path(reference), {})[reference] = number
        for shard, entries in by_shard.items():
            refs = dict(self._read(shard).get("refs", {}))
            for reference, number in entries.items():
                if number is None:
                    refs.pop(reference, None)
                else:
                    refs[reference] = number
            write_json_atomic(shard, {"refs": refs})

    def update(self, reference: str, change: Callable[[Ticket], Any]) -> tuple[Ticket, Any]:
        """Apply `change` to the ticket under the lock and store it; NotFound if it is absent."""
        self._acquire()
        try:
            number = self._locate(reference)
            if number is None:
                raise NotFound("no such ticket")
            db = self._db(number)
            doc = db.get(Query().reference == reference)
            if doc is None:
                raise NotFound("no such ticket")
            ticket = copy.deepcopy(dict(doc))
            result = change(ticket)
            db.table(_TABLE).upsert(ticket, Query().reference == reference)
        finally:
            self._lock.release()
        return ticket, result

    def reply(self, reference: str, author: str, author_name: str, body: str,
              status: str | None = None) -> tuple[Ticket, dict[str, str]]:
        return self.update(reference, lambda t: add_reply(t, author, author_name, body, status))

    def set_status(self, reference: str, status: str) -> Ticket:
        ticket, _ = self.update(reference, lambda t: _status_now(t, status))
        return ticket

    def rate(self, reference: str, rating: dict[str, Any]) -> dict[str, Any]:
        _, stored = self.update(reference, lambda t: add_rating(t, rating))
        return stored  # type: ignore[no-any-return]

    def erase_email(self, email: str) -> int:
        """Remove every ticket of `email` (case-insensitive), backups included; returns how many.

        Partitions are rewritten first, then their `.bak` is pointed at the new generation so
        the erased text does not linger; index entries go last. Re-running after a crash
        finishes the job.
        """
        wanted = email.strip().casefold()
        removed: dict[str, int | None] = {}
        self._acquire()
        try:
            for number in self._partitions():
                refs = [d["reference"] for d in self._docs(number).values()
                        if str(d.get("email", "")).casefold() == wanted]
                if refs:
                    self._db(number).remove(Query().reference.one_of(refs))
                    self._drop_backup(self._partition_path(number))
                    removed.update(dict.fromkeys(refs))
            self._set_index(removed)
            for shard in {self._shard_path(r) for r in removed}:
                self._drop_backup(shard)
        finally:
            self._lock.release()
        return len(removed)

    def _drop_backup(self, path: Path) -> None:
        backup = path.with_name(path.name + ".bak")
        try:
            staging = path.with_name(path.name + ".bak.tmp")
            staging.unlink(missing_ok=True)
            os.link(path, staging)
            os.replace(staging, backup)
        except OSError as exc:
            raise storage_error(backup, exc) from exc


def _status_now(ticket: Ticket, status: str) -> None:
    apply_status(ticket, status, now_iso())
    ticket["updated_at"] = now_iso()


__all__ = [
    "STATUSES",
    "Ticket",
    "TicketStore",
    "add_rating",
    "add_reply",
    "apply_status",
    "can_rate",
    "clean_new_ticket",
    "clean_rating",
    "clean_text",
    "hash_token",
    "is_spam_trap",
    "new_reference",
    "new_ticket",
    "now_iso",
    "token_matches",
]
