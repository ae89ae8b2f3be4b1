"""Durable JSON files for the JSON ticket store: atomic replace, fsync, a kept backup, clear failures.

TinyDB's own JSONStorage truncates and rewrites its file in place, so a crash or a full disk
mid-write leaves a half-written file. `AtomicJSONStorage` is a TinyDB `Storage` that instead
writes the new generation beside the old one, fsyncs it, keeps the old one as `<file>.bak`
(a hard link, so it costs no copy), swaps the new one in with `os.replace`, and fsyncs the
directory so the rename itself survives a power cut. A file that does not parse is never
treated as empty: reading it raises `CorruptStore`, naming the file and how to recover.

Locking is not done here; the store holds one `filelock` across each read-modify-write.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from ..durable import fsync_dir, write_atomic
from ..errors import InsufficientStorage, StorageUnavailable

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class CorruptStore(StorageUnavailable):
    """A store file exists but is not valid JSON of the expected shape."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"ticket store file {path} is corrupt ({reason}); nothing was changed. "
            f"Stop Deskbell, restore the previous generation with "
            f"`cp {path}.bak {path}` (or from your backups), then start again.",
            {"file": str(path)},
        )
        self.path = path


class StoreFull(InsufficientStorage):
    """The disk or quota is full; the previous generation of every file is untouched."""


class StoreUnwritable(StorageUnavailable):
    """The data directory cannot be written (read-only, permissions, I/O error)."""


def storage_error(path: Path, exc: OSError) -> InsufficientStorage | StorageUnavailable:
    """Translate an OSError from a write into a typed error that names the file."""
    if exc.errno in _FULL_ERRNOS:
        return StoreFull(f"no space left to write {path}; the ticket store is unchanged")
    reason = exc.strerror or exc.__class__.__name__
    return StoreUnwritable(f"cannot write {path} ({reason}); the ticket store is unchanged")


def read_json(path: Path) -> Any | None:
    """The parsed content of `path`, None if it does not exist; CorruptStore if unparsable."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreUnwritable(f"cannot read {path} ({exc.strerror})") from exc
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptStore(path, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CorruptStore(path, "expected a JSON object at the top level")
    return data


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new file."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, payload, permissions=0o600, backup=True)
    except OSError as exc:
        raise storage_error(path, exc) from exc


class AtomicJSONStorage(Storage):
    """TinyDB storage over one JSON file, written atomically and durably (see module doc)."""

    def __init__(self, path: str | Path, **_: Any) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        data = read_json(self.path)
        if data is not None and not all(isinstance(t, dict) for t in data.values()):
            raise CorruptStore(self.path, "expected tables of documents")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        write_json_atomic(self.path, data)

    def close(self) -> None:
        """Nothing is held open between operations."""


__all__ = [
    "AtomicJSONStorage",
    "CorruptStore",
    "StoreFull",
    "StoreUnwritable",
    "fsync_dir",
    "read_json",
    "storage_error",
    "write_json_atomic",
]
