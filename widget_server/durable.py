"""Files replaced whole: written aside, fsynced, renamed over the old one, the directory fsynced.

A crash, a kill or a full disk at any point leaves either the old file or the new one, never
half of one: the ticket store, the search index's catalog, word counts and CURRENT pointer,
ticket exports and the WordPress plugin zip are all written this way. The ticket store also
keeps the previous generation of each file as `<file>.bak` (a hard link, so it costs no copy).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (POSIX needs the directory itself fsynced)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(directory: Path) -> None:
    """fsync every file directly inside `directory`, then the directory itself."""
    for child in directory.iterdir():
        with open(child, "rb") as fh:
            os.fsync(fh.fileno())
    fsync_dir(directory)


def keep_backup(path: Path) -> None:
    """Point `<path>.bak` at the current content of `path`, if any (hard link, atomic swap)."""
    if not path.exists():
        return
    staging = path.with_name(path.name + ".bak.tmp")
    staging.unlink(missing_ok=True)
    os.link(path, staging)
    os.replace(staging, path.with_name(path.name + ".bak"))


def write_atomic(path: Path, data: bytes | str, *, permissions: int = 0o666,
                 backup: bool = False, sync: bool = True) -> None:
    """Replace `path` with `data` (str as UTF-8) so that a crash leaves the old or the new file.

    `permissions` apply to a new file (before the umask); `backup` keeps the old one as .bak;
    `sync=False` skips the fsyncs, for derived files a crash may lose (they are rebuilt).
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = _aside(path)
    try:
        # os.write straight from the bytes: no second copy in a buffered writer.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, permissions)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        _swap_in(tmp, path, backup, sync)
    except BaseException:
        _discard(tmp)
        raise


@contextmanager
def replacing(path: Path, *, binary: bool = False, newline: str | None = None,
              permissions: int = 0o666) -> Iterator[IO[Any]]:
    """A file to write `path`'s new content into; it replaces `path` only if the block ends
    without an exception, otherwise it is removed and `path` is left as it was."""
    tmp = _aside(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, permissions)
        with (open(fd, "wb") if binary else open(fd, "w", encoding="utf-8", newline=newline)) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _swap_in(tmp, path, backup=False)
    except BaseException:
        _discard(tmp)
        raise


def _aside(path: Path) -> Path:
    # Hidden, and per process: two writers never share a temporary file.
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _swap_in(tmp: Path, path: Path, backup: bool, sync: bool = True) -> None:
    if backup:
        keep_backup(path)
    os.replace(tmp, path)
    if sync:
        fsync_dir(path.parent)


def _discard(tmp: Path) -> None:
    try:
        tmp.unlink(missing_ok=True)
    except OSError:
        pass  # the disk may be gone entirely; a stray temporary file is harmless


__all__ = ["fsync_dir", "fsync_tree", "keep_backup", "replacing", "write_atomic"]
