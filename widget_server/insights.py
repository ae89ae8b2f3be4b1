"""Events in, insight out: client event validation, query normalization, content gaps, spikes.

The widget's events arrive through `parse_client_events`, which validates them strictly and
strips anything personal (a page URL loses its query string and fragment). `content_gaps` says
what to write next; `find_spikes` says which topic suddenly needs attention; `post_webhook`
sends spike alerts to an operator's URL, refusing private and loopback addresses.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import math
import re
import socket
import ssl
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from whoosh.lang.porter import stem

from widget_server.errors import BadRequest, ValidationFailed
from widget_server.events import SESSION_RE, NewEvent, parse_time
from widget_server.metrics import Event, Ticket, event_time, in_range, summary

MAX_EVENTS_PER_REQUEST = 20
MAX_TEXT = 500
MAX_QUERY = 200
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

# --- queries -----------------------------------------------------------------------------------


def normalize_query(text: str) -> str:
    """NFKC, casefold, collapse whitespace, strip punctuation at both ends, at most 200 chars."""
    text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    text = _strip_punct(text)
    return _strip_punct(text[:MAX_QUERY])


def _strip_punct(text: str) -> str:
    start, end = 0, len(text)
    while start < end and _is_edge_junk(text[start]):
        start += 1
    while end > start and _is_edge_junk(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_edge_junk(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in {"P", "S"}


def public_page_url(url: str) -> str:
    """The page URL without query string, fragment or credentials (they can carry personal data)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return ""
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))[:MAX_TEXT]


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

# --- clustering --------------------------------------------------------------------------------

_STOPWORDS = frozenset(
    "a an and are can do does for from how i in is it my of on or the to what when where why "
    "with you your me not".split()
)


def query_key(query: str) -> str:
    """Stemmed content words of a normalized query: "refunds" and "refund" share a key."""
    words = re.findall(r"\w+", query)
    content = [w for w in words if w not in _STOPWORDS] or words
    return " ".join(stem(w) for w in content)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (returning limit + 1) once it must exceed limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def _tolerance(key: str) -> int:
    return 0 if len(key) <= 3 else 1 if len(key) <= 7 else 2


@dataclass
class Cluster:
    """Queries that mean the same thing: one stem key, spellings within a small edit distance."""

    key: str
    variants: Counter[str] = field(default_factory=Counter)

    @property
    def label(self) -> str:
        return self.variants.most_common(1)[0][0]

    @property
    def count(self) -> int:
        return sum(self.variants.values())


def cluster_queries(counts: Mapping[str, int]) -> dict[str, Cluster]:
    """Group queries; returns query -> its cluster. Frequent spellings become cluster heads."""
    by_key: Counter[str] = Counter()
    for query, n in counts.items():
        by_key[query_key(query)] += n
    heads: list[Cluster] = []
    key_cluster: dict[str, Cluster] = {}
    for key, _ in sorted(by_key.items(), key=lambda kv: (-kv[1], kv[0])):
        home = next((c for c in heads if edit_distance(key, c.key, _tolerance(c.key)) <=
                     _tolerance(c.key)), None)
        if home is None:
            home = Cluster(key)
            heads.append(home)
        key_cluster[key] = home
    result = {}
    for query, n in counts.items():
        cluster = key_cluster[query_key(query)]
        cluster.variants[query] += n
        result[query] = cluster
    return result


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


# --- spikes ------------------------------------------------------------------------------------


def poisson_tail(observed: int, expected: float) -> float:
    """P(X >= observed) for X ~ Poisson(expected), summed in log space for small tails."""
    if observed <= 0:
        return 1.0
    top = observed + max(50, int(10 * expected) + 50)
    return min(1.0, sum(
        math.exp(-expected + k * math.log(expected) - math.lgamma(k + 1))
        for k in range(observed, top)
    ))


@dataclass
class Spike:
    """A topic whose recent count runs far above its own trailing baseline."""

    kind: str  # "category" (tickets) or "query" (failed searches)
    topic: str
    observed: int
    expected: float
    p_value: float
    started: datetime
    window_days: int
    examples: list[dict[str, str]]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "topic": self.topic, "observed": self.observed,
                "expected": round(self.expected, 2), "p_value": self.p_value,
                "started": self.started.isoformat(), "window_days": self.window_days,
                "examples": self.examples}


@dataclass
class _Item:
    at: datetime
    example: dict[str, str]


def _topics(
    tickets: Iterable[Ticket], events: Iterable[Event]
) -> dict[tuple[str, str], list[_Item]]:
    topics: dict[tuple[str, str], list[_Item]] = defaultdict(list)
    for ticket in tickets:
        if ticket.get("category"):
            topics[("category", ticket["category"])].append(_Item(
                parse_time(ticket["created_at"]),
                {"reference": ticket["reference"], "subject": ticket.get("subject", "")}))
    failed = [e for e in events if e["type"] == "search" and e["data"].get("results") == 0
              and e["data"].get("query")]
    clusters = cluster_queries(Counter(e["data"]["query"] for e in failed))
    for event in failed:
        label = clusters[event["data"]["query"]].label
        topics[("query", label)].append(_Item(event_time(event), {"query": event["data"]["query"]}))
    return topics


def find_spikes(
    tickets: Iterable[Ticket],
    events: Iterable[Event],
    now: datetime,
    window_days: int = 1,
    baseline_days: int = 28,
    min_count: int = 5,
    max_p: float = 0.001,
    tz: ZoneInfo | None = None,
) -> list[Spike]:
    """Topics whose tickets (by category) or failed searches (by query group) spiked.

    The window is [now - window_days, now); the baseline the `baseline_days` before it. A topic
    spikes when its window count is at least `min_count`, at least twice the baseline rate
    scaled to the window, and that many would happen by chance with probability below `max_p`
    under a Poisson model (a topic new to the baseline is taken as one occurrence in it).
    """
    tz = tz or ZoneInfo("UTC")
    start = now - timedelta(days=window_days)
    base_start = start - timedelta(days=baseline_days)
    spikes = []
    for (kind, topic), items in _topics(tickets, events).items():
        recent = sorted((i for i in items if in_range(i.at, start, now)), key=lambda i: i.at)
        before = sum(1 for i in items if in_range(i.at, base_start, start))
        expected = max(before, 1) / baseline_days * window_days
        if len(recent) < min_count or len(recent) < 2 * expected:
            continue
        p_value = poisson_tail(len(recent), expected)
        if p_value < max_p:
            started = _started(items, recent, before / baseline_days, now, tz)
            spikes.append(Spike(kind, topic, len(recent), expected, p_value, started,
                                window_days, _examples(recent)))
    spikes.sort(key=lambda s: s.p_value)
    return spikes


def _examples(recent: list[_Item], limit: int = 5) -> list[dict[str, str]]:
    """The latest distinct examples (the same query typed five times is one example)."""
    seen: list[dict[str, str]] = []
    for item in reversed(recent):
        if item.example not in seen:
            seen.append(item.example)
        if len(seen) == limit:
            break
    return seen


def _started(items: list[_Item], recent: list[_Item], daily_mean: float, now: datetime,
             tz: ZoneInfo) -> datetime:
    """First item of the unbroken run of above-normal local days that ends in the window."""
    threshold = max(1.0, daily_mean + 2 * math.sqrt(daily_mean))
    per_day: dict[date, list[_Item]] = defaultdict(list)
    for item in items:
        if item.at < now:
            per_day[item.at.astimezone(tz).date()].append(item)
    day = recent[-1].at.astimezone(tz).date()
    first = day
    while len(per_day.get(day, [])) > threshold:
        first = day
        day -= timedelta(days=1)
    return min(i.at for i in per_day.get(first, recent))


# --- webhook -----------------------------------------------------------------------------------


class WebhookRefused(ValueError):
    """The webhook URL is not an allowed target (bad scheme, private or unresolvable address)."""


def vet_address(host: str, port: int, allow_private: bool = False) -> str:
    """Resolve host and return one address; refuse if any address is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookRefused(f"cannot resolve {host}: {exc}") from None
    addresses = [info[4][0] for info in infos]
    for text in addresses:
        address = ipaddress.ip_address(text.split("%")[0])
        if not allow_private and not address.is_global:
            raise WebhookRefused(f"{host} resolves to {address}, which is not a public address")
    return addresses[0]


def post_webhook(url: str, payload: Any, allow_private: bool = False, timeout: float = 5.0) -> int:
    """POST payload as JSON to url; returns the HTTP status. Private targets are refused.

    The connection goes to the address that was checked, so a DNS answer that changes between
    the check and the request cannot redirect it to an internal host.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise WebhookRefused("webhook_url must be an http:// or https:// URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = vet_address(parts.hostname, port, allow_private)
    raw = socket.create_connection((address, port), timeout=timeout)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, port, timeout=timeout)
        raw = ssl.create_default_context().wrap_socket(raw, server_hostname=parts.hostname)
    else:
        conn = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    conn.sock = raw
    body = json.dumps(payload).encode()
    try:
        conn.request("POST", urlunsplit(("", "", parts.path or "/", parts.query, "")), body,
                     {"Content-Type": "application/json", "User-Agent": "Deskbell"})
        return conn.getresponse().status
    finally:
        conn.close()


__all__ = [
    "Cluster", "Spike", "WebhookRefused", "article_gaps", "cluster_queries", "content_gaps",
    "edit_distance", "find_spikes", "normalize_query", "parse_client_events", "poisson_tail",
    "post_webhook", "public_page_url", "query_key", "ticket_query_gaps", "zero_result_gaps",
]


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
