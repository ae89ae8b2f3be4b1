"""Events in, insight out: the widget's events validated, content gaps, the whole report.

The widget's events arrive through `parse_client_events`, which validates them strictly and
strips anything personal (a page URL loses its query string and fragment). `content_gaps` says
what to write next; `build_report` puts metrics, gaps and spikes (spikes.py) together for
`deskbell report` and /admin/insights.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from widget_server.errors import BadRequest, ValidationFailed
from widget_server.events import SESSION_RE, NewEvent
from widget_server.metrics import Event, Ticket, event_time, in_range, summary
from widget_server.queries import (
    MAX_TEXT,
    Cluster,
    cluster_queries,
    edit_distance,
    normalize_query,
    public_page_url,
    query_key,
)
from widget_server.spikes import (
    Spike,
    WebhookRefused,
    find_spikes,
    poisson_tail,
    post_webhook,
)

MAX_EVENTS_PER_REQUEST = 20
CLIENT_TYPES = {"widget_open", "search", "article_view", "contact_open"}
SOURCES = {"search", "suggestion", "link", "api"}
_SLUG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.-]{0,199}")
_LOCALE_RE = re.compile(r"[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,2}")
_FIELDS = {
    "widget_open": {"type", "page_url"},
    "search": {"type", "query", "results", "locale"},
    "article_view": {"type", "slug", "source"},
    "contact_open": {"type"},
}

# --- client events -----------------------------------------------------------------------------


def parse_client_events(payload: Any) -> tuple[str, list[NewEvent]]:
    """Validate a POST /api/v1/events body; returns the session and the events to store.

    Raises BadRequest when the body is not an object, ValidationFailed (422) naming each bad
    field otherwise. Searches whose query normalizes to nothing are dropped, not stored.
    """
    if not isinstance(payload, dict):
        raise BadRequest("expected a JSON object")
    errors: dict[str, str] = {}
    session = payload.get("session")
    if not isinstance(session, str) or not SESSION_RE.fullmatch(session):
        errors["session"] = "must be s_ followed by 22 letters, digits, - or _"
    items = payload.get("events")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_EVENTS_PER_REQUEST:
        errors["events"] = f"must be a list of 1 to {MAX_EVENTS_PER_REQUEST} events"
        items = []
    for key in set(payload) - {"session", "events"}:
        errors[key] = "unknown field"
    parsed = [_parse_event(item, f"events[{i}]", errors) for i, item in enumerate(items)]
    if errors:
        raise ValidationFailed("some events are not valid; none were stored", errors)
    return str(session), [NewEvent(str(session), t, d) for t, d in parsed if t]


def _parse_event(item: Any, where: str, errors: dict[str, str]) -> tuple[str, dict[str, Any]]:
    if not isinstance(item, dict) or item.get("type") not in CLIENT_TYPES:
        errors[f"{where}.type"] = "must be one of " + ", ".join(sorted(CLIENT_TYPES))
        return "", {}
    kind = item["type"]
    for key in set(item) - _FIELDS[kind]:
        errors[f"{where}.{key}"] = "unknown field"
    data = _EVENT_PARSERS[kind](item, where, errors)
    if kind == "search" and not data.get("query"):
        return "", {}
    return kind, data


def _text(item: dict[str, Any], key: str, where: str, errors: dict[str, str],
          required: bool = False) -> str:
    value = item.get(key, None)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT or (required and not value.strip()):
        errors[f"{where}.{key}"] = f"must be a non-empty string of at most {MAX_TEXT} characters" \
            if required else f"must be a string of at most {MAX_TEXT} characters"
        return ""
    return value


def _widget_open(item: dict[str, Any], where: str, errors: dict[str, str]) -> dict[str, Any]:
    return {"page_url": public_page_url(_text(item, "page_url", where, errors))}


def _search(item: dict[str, Any], where: str, errors: dict[str, str]) -> dict[str, Any]:
    query = normalize_query(_text(item, "query", where, errors, required=True))
    results = item.get("results")
    if isinstance(results, float) and results.is_integer():
        results = int(results)  # JSON has one number type: 3.0 is the whole number 3
    if isinstance(results, bool) or not isinstance(results, int) or not 0 <= results <= 100000:
        errors[f"{where}.results"] = "must be a whole number from 0 to 100000"
    locale = _text(item, "locale", where, errors)
    if locale and not _LOCALE_RE.fullmatch(locale):
        errors[f"{where}.locale"] = "must be a language tag like en or pt-BR"
    return {"query": query, "results": results, "locale": locale}


def _article_view(item: dict[str, Any], where: str, errors: dict[str, str]) -> dict[str, Any]:
    slug = item.get("slug")
    if not isinstance(slug, str) or not _SLUG_RE.fullmatch(slug):
        errors[f"{where}.slug"] = "must be an article slug"
    source = item.get("source", "search")
    if source not in SOURCES:
        errors[f"{where}.source"] = "must be one of " + ", ".join(sorted(SOURCES))
    return {"slug": slug, "source": source}


def _contact_open(item: dict[str, Any], where: str, errors: dict[str, str]) -> dict[str, Any]:
    return {}


_EVENT_PARSERS = {
    "widget_open": _widget_open, "search": _search,
    "article_view": _article_view, "contact_open": _contact_open,
}

# --- content gaps ------------------------------------------------------------------------------


def _by_session(events: Iterable[Event]) -> dict[str, list[Event]]:
    trails: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.get("session"):
            trails[event["session"]].append(event)
    for trail in trails.values():
        trail.sort(key=event_time)
    return trails


def zero_result_gaps(events: list[Event], limit: int = 10) -> list[dict[str, Any]]:
    """Zero-result searches grouped by meaning, most frequent first, with a suggested action.

    When some spelling in the group did find articles, the fix is a synonym or alias; when none
    ever did, the knowledge base lacks the article.
    """
    searches = [e for e in events if e["type"] == "search" and e["data"].get("query")]
    clusters = cluster_queries(Counter(e["data"]["query"] for e in searches))
    failed: dict[int, list[Event]] = defaultdict(list)
    found: set[int] = set()
    for event in searches:
        cluster = clusters[event["data"]["query"]]
        if event["data"].get("results") == 0:
            failed[id(cluster)].append(event)
        else:
            found.add(id(cluster))
    rows = []
    for cid, misses in failed.items():
        queries = Counter(e["data"]["query"] for e in misses)
        rows.append({
            "query": queries.most_common(1)[0][0],
            "variants": queries.most_common(),
            "searches": len(misses),
            "sessions": len({e.get("session") for e in misses}),
            "action": "add a synonym or alias" if cid in found else "write an article",
        })
    rows.sort(key=lambda r: (-r["searches"], r["query"]))
    return rows[:limit]


def ticket_query_gaps(events: list[Event], limit: int = 10) -> list[dict[str, Any]]:
    """Queries searched in a session that then opened a ticket, by number of such tickets."""
    trails = _by_session(events)
    all_queries = Counter(e["data"]["query"] for e in events
                          if e["type"] == "search" and e["data"].get("query"))
    clusters = cluster_queries(all_queries)
    sessions_with: dict[int, set[str]] = defaultdict(set)
    ticketed: dict[int, dict[str, Any]] = {}
    for session, trail in trails.items():
        seen: dict[int, Event] = {}
        for event in trail:
            if event["type"] == "search" and event["data"].get("query"):
                cluster = clusters[event["data"]["query"]]
                seen[id(cluster)] = event
                sessions_with[id(cluster)].add(session)
            elif event["type"] == "ticket_created":
                for cid, search in seen.items():
                    row = ticketed.setdefault(cid, {"queries": Counter(), "references": [],
                                                    "found": False, "sessions": set()})
                    row["queries"][search["data"]["query"]] += 1
                    row["sessions"].add(session)
                    row["found"] |= bool(search["data"].get("results"))
                    if event["data"].get("reference"):
                        row["references"].append(event["data"]["reference"])
    rows = [{
        "query": row["queries"].most_common(1)[0][0],
        "variants": row["queries"].most_common(),
        "tickets": len(row["sessions"]),
        "sessions": len(sessions_with[cid]),
        "ticket_rate": len(row["sessions"]) / len(sessions_with[cid]),
        "references": row["references"][:5],
        "action": "rewrite the articles this search finds" if row["found"]
        else "write an article",
    } for cid, row in ticketed.items()]
    rows.sort(key=lambda r: (-r["tickets"], -r["ticket_rate"], r["query"]))
    return rows[:limit]


def article_gaps(events: list[Event], limit: int = 10, min_votes: int = 3) -> list[dict[str, Any]]:
    """Articles voted unhelpful: those most often followed by a ticket, then the worst ratio.

    An article is listed when a not-helpful vote was followed by a ticket in the same session,
    or when it has at least `min_votes` votes and fewer than 80% of them are helpful.
    """
    stats: dict[str, dict[str, Any]] = {}
    for trail in _by_session(events).values():
        downvoted: set[str] = set()
        for event in trail:
            slug = event["data"].get("slug")
            if event["type"] == "vote" and slug:
                row = stats.setdefault(slug, {"slug": slug, "helpful": 0, "not_helpful": 0,
                                              "then_ticket": 0, "references": [], "reasons": []})
                row["helpful" if event["data"].get("helpful") else "not_helpful"] += 1
                if not event["data"].get("helpful"):
                    downvoted.add(slug)
                    reason = event["data"].get("reason")
                    if reason and reason not in row["reasons"]:
                        row["reasons"].append(reason)
            elif event["type"] == "ticket_created":
                for down in downvoted:
                    stats[down]["then_ticket"] += 1
                    if event["data"].get("reference"):
                        stats[down]["references"].append(event["data"]["reference"])
                downvoted = set()
    rows = []
    for row in stats.values():
        votes = row["helpful"] + row["not_helpful"]
        weak = votes >= min_votes and row["helpful"] < 0.8 * votes
        if row["not_helpful"] and (weak or row["then_ticket"]):
            rows.append({**row, "votes": votes, "helpful_ratio": row["helpful"] / votes,
                         "reasons": row["reasons"][:5], "references": row["references"][:5],
                         "action": "rewrite this article"})
    rows.sort(key=lambda r: (-r["then_ticket"], r["helpful_ratio"], -r["votes"], r["slug"]))
    return rows[:limit]


def content_gaps(events: Iterable[Event], limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """The three gap lists: zero-result searches, searches ending in tickets, unhelpful articles."""
    events = list(events)
    return {
        "zero_results": zero_result_gaps(events, limit),
        "ticket_queries": ticket_query_gaps(events, limit),
        "unhelpful_articles": article_gaps(events, limit),
    }


# --- the whole report --------------------------------------------------------------------------

SPIKE_BASELINE_DAYS = 28


def report_span(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The events and tickets a report needs: its range plus the spike baseline before `until`."""
    return min(since, until - timedelta(days=7 + SPIKE_BASELINE_DAYS)), until


def build_report(
    tickets: Iterable[Ticket],
    events: Iterable[Event],
    since: datetime,
    until: datetime,
    tz: ZoneInfo,
) -> dict[str, Any]:
    """Metrics and content gaps for [since, until); spikes for the day and week ending at until.

    `events` and `tickets` may reach back further (see `report_span`) for the spike baseline.
    """
    tickets, events = list(tickets), list(events)
    ranged = [e for e in events if in_range(event_time(e), since, until)]
    return {
        **summary(tickets, ranged, since, until, tz),
        "gaps": content_gaps(ranged),
        "spikes": _spikes(tickets, events, until, tz),
    }


def _spikes(tickets: list[Ticket], events: list[Event], until: datetime,
            tz: ZoneInfo) -> dict[str, list[Spike]]:
    """Spikes of the last day, and of the last week for topics the last day did not flag."""
    day = find_spikes(tickets, events, until, 1, SPIKE_BASELINE_DAYS, tz=tz)
    flagged = {(s.kind, s.topic) for s in day}
    week = [s for s in find_spikes(tickets, events, until, 7, SPIKE_BASELINE_DAYS, tz=tz)
            if (s.kind, s.topic) not in flagged]
    return {"day": day, "week": week}


__all__ = [
    "Cluster", "Spike", "WebhookRefused", "article_gaps", "build_report", "cluster_queries",
    "content_gaps", "edit_distance", "find_spikes", "normalize_query", "parse_client_events",
    "poisson_tail", "post_webhook", "public_page_url", "query_key", "report_span",
    "ticket_query_gaps", "zero_result_gaps",
]
