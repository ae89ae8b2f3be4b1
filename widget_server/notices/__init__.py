"""Notices: the owner's short banner at the top of the help panel, in answer to a spike.

    model.py     Notice, and new_notice: the one validation every entry point uses
    store.py     the JSON and memory stores, NoticeBoard (the cached reader the server holds)
                 and open_notice_store (the `ticket_store` setting picks the backend)
    postgres.py  the `notices` table, for scale-out installs (imported only then)
"""

from .model import MAX_TEXT, Notice, NoticeInvalid, new_notice, parse_texts, parse_until, ui_locales
from .store import (
    CACHE_SECONDS,
    JSONNoticeStore,
    MemoryNoticeStore,
    NoticeBoard,
    NoticeStore,
    now_utc,
    open_notice_store,
)

__all__ = ["CACHE_SECONDS", "MAX_TEXT", "JSONNoticeStore", "MemoryNoticeStore", "Notice",
           "NoticeBoard", "NoticeInvalid", "NoticeStore", "new_notice", "now_utc",
           "open_notice_store", "parse_texts", "parse_until", "ui_locales"]
