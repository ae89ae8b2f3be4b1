"""A deterministic month of help-desk life, written through the real stores.

Visitors search (some queries find nothing), read, vote and sometimes open tickets that agents
answer, solve and get rated on; in the last two days billing tickets and "login error" searches
spike. Used by the report and insights-page tests and to look at the page in a browser.
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from widget_server.events import EventStore, NewEvent
from widget_server.tickets import JSONTicketStore, hash_token

FOUND = [  # (query, article slug, category)
    ("embed snippet", "embedding/embed-snippet", "Embedding"),
    ("wordpress", "embedding/wordpress", "Embedding"),
    ("content security policy", "embedding/content-security-policy", "Embedding"),
    ("reindex", "operations/reindexing", "Operations"),
    ("install", "getting-started/installing", "Getting started"),
    ("front matter", "writing-articles/article-format", "Writing articles"),
    ("drafts", "writing-articles/drafts", "Writing articles"),
    ("refund policy", "billing/refunds", "Billing"),
]
MISSING = ["dark mode", "refund", "refunds", "refnd", "slack integration", "export to pdf"]


def sid(rng: random.Random) -> str:
    return "s_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(22))


def _ticket(ref: str, created: datetime, category: str, subject: str) -> dict[str, Any]:
    iso = created.isoformat()
    return {"reference": ref, "token_hash": hash_token(secrets.token_urlsafe(8)),
            "name": "Visitor", "email": "visitor@example.com", "subject": subject,
            "message": subject, "page_url": "", "category": category, "locale": "en",
            "trail": {}, "status": "new", "created_at": iso, "updated_at": iso,
            "first_reply_at": None, "solved_at": None, "closed_at": None,
            "resolution_count": 0, "ratings": [],
            "thread": [{"id": ref, "author": "visitor", "author_name": "Visitor",
                        "body": subject, "at": iso}]}


def _handle(ticket: dict[str, Any], rng: random.Random, now: datetime) -> None:
    """An agent replies (90%), solves (75% of those), the visitor rates (60% of solved)."""
    created = datetime.fromisoformat(ticket["created_at"])
    if rng.random() > 0.9:
        return
    reply = created + timedelta(minutes=rng.choice([20, 45, 90, 180, 300, 600, 1200, 2000]))
    if reply >= now:
        return
    ticket.update(first_reply_at=reply.isoformat(), status="pending")
    if rng.random() > 0.75:
        return
    solved = reply + timedelta(hours=rng.choice([1, 3, 6, 20, 30, 50]))
    if solved >= now:
        return
    ticket.update(solved_at=solved.isoformat(), status="solved", resolution_count=1)
    if rng.random() < 0.6:
        ticket["ratings"].append({"csat": rng.choice([5, 5, 4, 4, 4, 3, 2]),
                                  "ces": rng.choice([1, 2, 2, 3, 5]), "comment": "",
                                  "at": (solved + timedelta(hours=2)).isoformat(),
                                  "resolution": 1})


def _session(rng: random.Random, start: datetime, spike: bool) -> tuple[list[NewEvent],
                                                                         tuple[str, str] | None]:
    s, t = sid(rng), start
    events = [NewEvent(s, "widget_open", {"page_url": "https://shop.example/"}, t)]
    if spike and rng.random() < 0.5:
        query, slug, category = "login error", "", "Billing"
    elif rng.random() < 0.25:
        query, slug, category = rng.choice(MISSING), "", "Other"
    else:
        query, slug, category = rng.choice(FOUND)
    t += timedelta(seconds=20)
    # As the server records it: the true count, and the answer it quoted when confident. The
    # answer and the panel's closing come from a generator of the session's own, so the rest
    # of the month is drawn exactly as before they existed.
    own = random.Random(s)
    quoted = bool(slug) and own.random() < 0.5
    events.append(NewEvent(s, "search", {"query": query, "results": 4 if slug else 0,
                                         "confidence": 0.86 if quoted else 0.31,
                                         "answer": slug if quoted else "", "locale": "en"}, t))
    closed = NewEvent(s, "widget_close", {}, t + timedelta(minutes=3))
    if slug and rng.random() < 0.8:
        t += timedelta(seconds=5)
        events.append(NewEvent(s, "article_view", {"slug": slug, "source": "search"}, t))
        if rng.random() < 0.4:
            helpful = rng.random() < (0.3 if slug == "billing/refunds" else 0.8)
            t += timedelta(seconds=60)
            events.append(NewEvent(s, "vote", {"slug": slug, "helpful": helpful,
                                               "reason": "" if helpful else "unclear"}, t))
            if helpful:
                return events, None
        elif rng.random() < 0.85:
            return events + [closed] * (own.random() < 0.6), None
    if rng.random() < (0.8 if spike else 0.45):
        t += timedelta(seconds=40)
        events.append(NewEvent(s, "contact_open", {}, t))
        return events, (category if category != "Other" else "General", f"Help with {query}")
    return events + [closed] * (quoted and own.random() < 0.7), None  # the answer was enough


def seed(data_dir: str | Path, now: datetime, days: int = 42, per_day: int = 30,
         seed_value: int = 7) -> dict[str, int]:
    """Write `days` days of sessions ending at `now` into data_dir; returns what was written."""
    rng = random.Random(seed_value)
    store = EventStore(data_dir, retention_days=3650)
    tickets = JSONTicketStore(data_dir)
    written = {"events": 0, "tickets": 0}
    for back in range(days, 0, -1):
        day_start = now - timedelta(days=back)
        spike = back <= 2
        for n in range(per_day + (25 if spike else 0)):
            start = day_start + timedelta(minutes=rng.randrange(0, 24 * 60 - 30))
            events, want_ticket = _session(rng, start, spike)
            if want_ticket:
                category, subject = want_ticket
                ref = f"DB-{back:04d}-{n:04d}-SEED"
                created = events[-1].at + timedelta(minutes=2)  # type: ignore[operator]
                ticket = _ticket(ref, created, category, subject)
                _handle(ticket, rng, now)
                tickets.add(ticket)
                events.append(NewEvent(events[0].session, "ticket_created",
                                       {"reference": ref, "category": category}, created))
                written["tickets"] += 1
            written["events"] += store.append_many(events)
    return written
