"""Spikes: a topic whose tickets or failed searches run far above its own recent baseline.

Also the optional webhook that carries spike alerts to an operator, which refuses private,
loopback and link-local targets so the server cannot be turned against its own network.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import math
import socket
import ssl
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from widget_server.events import parse_time
from widget_server.metrics import Event, Ticket, event_time, in_range
from widget_server.queries import cluster_queries


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


__all__ = ["Spike", "WebhookRefused", "find_spikes", "poisson_tail", "post_webhook",
           "vet_address"]
