"""Spikes: a topic whose tickets or failed searches run far above its own recent baseline.

Topics are ticket categories and groups of failed searches; a group is the one the report's
`Activity` gave the query, so a spike on "login error" is the same group as its gap row.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..events import parse_time
from .activity import Activity
from .facts import ranked

CATEGORY, QUERY = "category", "query"  # the two kinds of topic
BASELINE_DAYS = 28


def poisson_tail(observed: int, expected: float) -> float:
    """P(X >= observed) for X ~ Poisson(expected), summed in log space for small tails."""
    if observed <= 0:
        return 1.0
    top = observed + max(50, int(10 * expected) + 50)
    return min(1.0, sum(
        math.exp(-expected + k * math.log(expected) - math.lgamma(k + 1))
        for k in range(observed, top)
    ))


@dataclass(frozen=True)
class Spike:
    """A topic whose recent count runs far above its own trailing baseline."""

    kind: str  # "category" (tickets) or "query" (failed searches)
    topic: str
    observed: int
    expected: float
    p_value: float
    started: datetime
    window_days: int
    examples: tuple[Mapping[str, str], ...]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "topic": self.topic, "observed": self.observed,
                "expected": round(self.expected, 2), "p_value": self.p_value,
                "started": self.started.isoformat(), "window_days": self.window_days,
                "examples": [dict(e) for e in self.examples]}


@dataclass(frozen=True)
class Spikes:
    """Spikes of the last day, and of the last week for topics the last day did not flag."""

    day: tuple[Spike, ...]
    week: tuple[Spike, ...]


# An item of a topic: when, and what it was (a ticket, or a failed search's query), kept as
# read (a plain tuple: hundreds of thousands are made per report) and shown by _example.
_Item = tuple[datetime, Mapping[str, Any] | str]
Topics = dict[tuple[str, str], list[_Item]]  # each topic's items in time order


def category_topics(tickets: Iterable[Mapping[str, Any]]) -> Topics:
    """Every ticket by its category, each category's tickets in time order."""
    topics: Topics = defaultdict(list)
    for ticket in tickets:
        if ticket.get("category"):
            topics[(CATEGORY, ticket["category"])].append(
                (parse_time(ticket["created_at"]), ticket))
    for items in topics.values():
        items.sort(key=lambda i: i[0])  # stable: the order read breaks ties
    return topics


def spike_topics(activity: Activity, categories: Topics | None = None) -> Topics:
    """Every ticket by its category (`categories`, when category_topics(activity.tickets) is
    at hand) and every failed search by its query group, over the whole history; a group is
    named by its most frequent failed spelling (ties alphabetically)."""
    topics: Topics = defaultdict(list)
    topics.update(category_topics(activity.tickets) if categories is None else categories)
    failed = activity.facts.failed
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for query, _ in failed:
        spellings[activity.queries.key(query)][query] += 1
    labels = {group: ranked(counts)[0][0] for group, counts in spellings.items()}
    for query, at in failed:
        topics[(QUERY, labels[activity.queries.key(query)])].append((at, query))
    for key, items in topics.items():
        if key[0] == QUERY:
            items.sort(key=lambda i: i[0])  # stable: the order read breaks ties
    return topics


def find_spikes(
    activity: Activity,
    now: datetime,
    window_days: int = 1,
    baseline_days: int = BASELINE_DAYS,
    min_count: int = 5,
    max_p: float = 0.001,
    tz: ZoneInfo | None = None,
    topics: Topics | None = None,
) -> tuple[Spike, ...]:
    """Topics whose tickets (by category) or failed searches (by query group) spiked.

    The window is [now - window_days, now); the baseline the `baseline_days` before it. A topic
    spikes when its window count is at least `min_count`, at least twice the baseline rate
    scaled to the window, and that many would happen by chance with probability below `max_p`
    under a Poisson model (a topic new to the baseline is taken as one occurrence in it).
    `topics` (from `spike_topics(activity)`) saves working them out again for a second window.
    """
    tz = tz or ZoneInfo("UTC")
    start = now - timedelta(days=window_days)
    base_start = start - timedelta(days=baseline_days)
    spikes = []
    for (kind, topic), items in (spike_topics(activity) if topics is None else topics).items():
        times = [i[0] for i in items]
        recent = items[bisect_left(times, start):bisect_left(times, now)]
        before = bisect_left(times, start) - bisect_left(times, base_start)
        expected = max(before, 1) / baseline_days * window_days
        if len(recent) < min_count or len(recent) < 2 * expected:
            continue
        p_value = poisson_tail(len(recent), expected)
        if p_value < max_p:
            started = _started(items, recent, before / baseline_days, now, tz)
            spikes.append(Spike(kind, topic, len(recent), expected, p_value, started,
                                window_days, _examples(recent)))
    spikes.sort(key=lambda s: s.p_value)
    return tuple(spikes)


def report_spikes(activity: Activity, until: datetime, tz: ZoneInfo,
                  categories: Topics | None = None) -> Spikes:
    """Spikes of the day ending at `until`, and of the week for topics the day did not flag
    (`categories`: category_topics(activity.tickets), when already worked out)."""
    topics = spike_topics(activity, categories)
    day = find_spikes(activity, until, 1, tz=tz, topics=topics)
    flagged = {(s.kind, s.topic) for s in day}
    week = tuple(s for s in find_spikes(activity, until, 7, tz=tz, topics=topics)
                 if (s.kind, s.topic) not in flagged)
    return Spikes(day, week)


def _examples(recent: list[_Item], limit: int = 5) -> tuple[Mapping[str, str], ...]:
    """The latest distinct examples (the same query typed five times is one example)."""
    seen: list[Mapping[str, str]] = []
    for _, what in reversed(recent):
        example = _example(what)
        if example not in seen:
            seen.append(example)
        if len(seen) == limit:
            break
    return tuple(seen)


def _example(what: Mapping[str, Any] | str) -> Mapping[str, str]:
    """A ticket as its reference and subject; a failed search as its query."""
    if isinstance(what, str):
        return {"query": what}
    return {"reference": what["reference"], "subject": what.get("subject") or ""}


def _started(items: list[_Item], recent: list[_Item], daily_mean: float, now: datetime,
             tz: ZoneInfo) -> datetime:
    """First item of the unbroken run of above-normal local days that ends in the window."""
    threshold = max(1.0, daily_mean + 2 * math.sqrt(daily_mean))
    per_day: dict[date, list[_Item]] = defaultdict(list)
    for item in items:
        if item[0] < now:
            per_day[item[0].astimezone(tz).date()].append(item)
    day = recent[-1][0].astimezone(tz).date()
    first = day
    while len(per_day.get(day, [])) > threshold:
        first = day
        day -= timedelta(days=1)
    return min(i[0] for i in per_day.get(first, recent))


__all__ = ["BASELINE_DAYS", "category_topics", "Spike", "Spikes", "find_spikes", "poisson_tail", "report_spikes",
           "spike_topics"]
