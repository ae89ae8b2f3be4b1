"""PostgresNoticeStore: notices in the `notices` table (migration 0004), shared by every node.

Used when `ticket_store` is a postgresql:// URL. The table is small (a row per notice ever
published) and the server reads it through NoticeBoard's cache, so reads are plain queries;
clearing is one UPDATE, so two nodes clearing at once cannot lose a notice. Like the other
PostgreSQL stores, imported only when a setting names PostgreSQL (it needs psycopg).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..errors import NotFound, ValidationFailed
from ..pg import Database, storable
from .model import Notice

log = logging.getLogger("deskbell.notices")
_COLUMNS = "id, text, texts, article, created_at, until, cleared_at"


def _notice(row: tuple[Any, ...]) -> Notice:
    notice_id, text, texts, article, created_at, until, cleared_at = row
    return Notice(id=notice_id, text=text, texts=dict(texts or {}), article=article,
                  created_at=created_at, until=until, cleared_at=cleared_at)


class PostgresNoticeStore:
    """The `notices` table at `url` (see the module docstring); a small pool, since notices
    are read at most once per cache period per process, and a short wait for a connection,
    since the read sits on the panel's opening path."""

    def __init__(self, url: str, *, schema: str | None = None, max_size: int = 2,
                 timeout: float = 2.0) -> None:
        self._db = Database(url, what="notice", logger=log, schema=schema, min_size=1,
                            max_size=max_size, timeout=timeout)

    def close(self) -> None:
        self._db.close()

    def add(self, notice: Notice) -> None:
        texts = [notice.text, *notice.texts.values(), notice.article or ""]
        if not all(storable(t) for t in texts):
            raise ValidationFailed("notice: text PostgreSQL cannot hold (a NUL character)",
                                   {"text": "contains a NUL character"})
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO notices ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (notice.id, notice.text, Jsonb(dict(notice.texts)), notice.article,
                 notice.created_at, notice.until, notice.cleared_at))

    def all(self) -> list[Notice]:
        with self._db.transaction() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM notices ORDER BY seq").fetchall()
        return [_notice(row) for row in rows]

    def clear(self, notice_id: str | None, at: datetime) -> list[Notice]:
        with self._db.transaction() as conn:
            if notice_id is None:
                rows = conn.execute(
                    f"UPDATE notices SET cleared_at = %s WHERE cleared_at IS NULL "
                    f"AND until > %s RETURNING {_COLUMNS}", (at, at)).fetchall()
            else:
                known = conn.execute("SELECT 1 FROM notices WHERE id = %s",
                                     (notice_id,)).fetchone()
                if known is None:
                    raise NotFound(f"no notice {notice_id[:40]!r} (deskbell notice list shows "
                                   "them)")
                rows = conn.execute(
                    f"UPDATE notices SET cleared_at = %s WHERE id = %s AND cleared_at IS NULL "
                    f"AND until > %s RETURNING {_COLUMNS}", (at, notice_id, at)).fetchall()
        return sorted((_notice(row) for row in rows), key=lambda n: n.created_at)


__all__ = ["PostgresNoticeStore"]
