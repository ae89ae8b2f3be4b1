"""What in the knowledge base needs an author: overdue reviews, dead links, and articles that
visitors now find less helpful than they did a month ago.

    vote_windows(store, now) -> VoteWindows      votes per article, the two windows
    helpful_drops(events, articles, now) -> tuple[HelpfulDrop, ...]
    freshness_report(articles, windows, now) -> list[Stale | HelpfulDrop]

Pure functions over articles and vote counts, so `deskbell check --stale` and the admin pages
list the same thing. The counts come from any EventStore (`EventStore.vote_counts`: folded
from its events, or counted by PostgreSQL in SQL). An article's helpful ratio is helpful / (helpful + not helpful) over its "vote" events,
counted as insights/metrics.py article_stats counts them. It is compared between the last
WINDOW_DAYS days and the WINDOW_DAYS days before; the article is listed when each window holds
at least MIN_VOTES votes (fewer say more about who happened to vote than about the article)
and the ratio fell by at least MIN_DROP_POINTS percentage points (a smaller move is within what
a handful of votes changes anyway). An article without votes before has nothing to fall from.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..articles import Article, Stale, stale_report
from ..events import VOTE

WINDOW_DAYS = 30
MIN_VOTES = 5  # in each window
MIN_DROP_POINTS = 15  # percentage points of helpful ratio
HELPFUL = "helpful"  # the kind of a HelpfulDrop row, beside Stale's "review" and "link"


def vote_span(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The events `helpful_drops` reads: [now - 2 windows, now)."""
    return now - dt.timedelta(days=2 * WINDOW_DAYS), now


@dataclass(frozen=True)
class HelpfulDrop:
    """An article whose helpful ratio fell from the window before to the last one.

    A row of `freshness_report` like articles.Stale (kind, path, line, message, owner), with
    the figures besides, for a page that shows them its own way.
    """

    slug: str
    path: str
    owner: str
    helpful_before: int
    votes_before: int
    helpful_recent: int
    votes_recent: int
    kind: str = HELPFUL
    line: int = 1  # the article as a whole

    @property
    def ratio_before(self) -> float:
        return self.helpful_before / self.votes_before

    @property
    def ratio_recent(self) -> float:
        return self.helpful_recent / self.votes_recent

    @property
    def message(self) -> str:
        """The figures, as `deskbell check --stale` prints them."""
        return (f"helpful {self.ratio_before:.0%} -> {self.ratio_recent:.0%}, "
                f"{self.votes_recent} votes in the last {WINDOW_DAYS} days "
                f"({self.votes_before} in the {WINDOW_DAYS} days before)")


VoteCounts = Mapping[str, tuple[int, int]]  # slug named by the votes: (helpful, not helpful)
VoteWindows = tuple[VoteCounts, VoteCounts]  # the window before, the last window


def _windows(now: dt.datetime) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    middle = now - dt.timedelta(days=WINDOW_DAYS)
    return middle - dt.timedelta(days=WINDOW_DAYS), middle, now


def _event_time(event: Mapping[str, Any]) -> dt.datetime:
    at = event.get("_at")
    if isinstance(at, dt.datetime):
        return at
    moment = dt.datetime.fromisoformat(str(event["at"]))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def count_votes(events: Iterable[Mapping[str, Any]], since: dt.datetime,
                until: dt.datetime) -> dict[str, tuple[int, int]]:
    """Helpful and not-helpful votes per slug named, over the vote events of [since, until)
    (a vote is helpful when its data says so, as metrics.article_stats counts it)."""
    counts: dict[str, list[int]] = {}
    for event in events:
        slug = event["data"].get("slug") if event.get("type") == VOTE else None
        if slug and since <= _event_time(event) < until:
            counts.setdefault(str(slug), [0, 0])[0 if event["data"].get("helpful") else 1] += 1
    return {slug: (n[0], n[1]) for slug, n in sorted(counts.items())}


def windows_of(events: Iterable[Mapping[str, Any]], now: dt.datetime) -> VoteWindows:
    """The two windows' counts from events (those of vote_span(now) suffice)."""
    first, middle, end = _windows(now)
    events = list(events)
    return count_votes(events, first, middle), count_votes(events, middle, end)


def vote_windows(store: Any, now: dt.datetime) -> VoteWindows:
    """The two windows' counts from an EventStore (its vote_counts)."""
    first, middle, end = _windows(now)
    return store.vote_counts(first, middle), store.vote_counts(middle, end)


def helpful_drops(events: Iterable[Mapping[str, Any]], articles: Iterable[Article],
                  now: dt.datetime, min_votes: int = MIN_VOTES,
                  min_drop_points: int = MIN_DROP_POINTS) -> tuple[HelpfulDrop, ...]:
    """`drops` of the vote events of the two windows before `now`."""
    return drops(windows_of(events, now), articles, min_votes, min_drop_points)


def drops(windows: VoteWindows, articles: Iterable[Article], min_votes: int = MIN_VOTES,
          min_drop_points: int = MIN_DROP_POINTS) -> tuple[HelpfulDrop, ...]:
    """Published articles whose helpful ratio fell by `min_drop_points` or more from the
    window before to the last one, with `min_votes` or more votes in each. Votes name an
    article by its canonical slug; a vote naming an alias counts for the article, and votes
    for no published article are ignored. Sorted by path."""
    public = [a for a in articles if not a.draft]
    by_name = {name: a for a in public for name in (a.slug, *a.aliases)}
    votes: Counter[tuple[str, bool, bool]] = Counter()  # (slug, recent, helpful)
    for recent, counts in enumerate(windows):
        for name, (helpful, not_helpful) in counts.items():
            article = by_name.get(name)
            if article is not None:
                votes[(article.slug, bool(recent), True)] += helpful
                votes[(article.slug, bool(recent), False)] += not_helpful
    found = []
    for article in public:
        before = (votes[(article.slug, False, True)], votes[(article.slug, False, False)])
        recent_ = (votes[(article.slug, True, True)], votes[(article.slug, True, False)])
        if sum(before) < min_votes or sum(recent_) < min_votes:
            continue
        fell = Fraction(before[0], sum(before)) - Fraction(recent_[0], sum(recent_))
        if fell * 100 >= min_drop_points:  # exact: 80% -> 65% is 15 points, not 14.99...
            found.append(HelpfulDrop(article.slug, article.path, article.owner, before[0],
                                     sum(before), recent_[0], sum(recent_)))
    return tuple(sorted(found, key=lambda d: d.path))


def freshness_report(articles: Iterable[Article], windows: VoteWindows,
                     now: dt.datetime, today: dt.date | None = None) -> list[Stale | HelpfulDrop]:
    """Everything `deskbell check --stale` lists, by path and line: reviews past due and links
    visitors cannot follow (articles.stale_report, as of `today`, default now's date; kinds
    "review" and "link") and helpful ratios that fell (`helpful_drops`, kind "helpful").
    Every row has kind, path, line, message and owner."""
    articles = list(articles)
    found: list[Stale | HelpfulDrop] = [*stale_report(articles, today or now.date())]
    found += drops(windows, articles)
    return sorted(found, key=lambda s: (s.path, s.line))


__all__ = ["HELPFUL", "MIN_DROP_POINTS", "MIN_VOTES", "WINDOW_DAYS", "HelpfulDrop",
           "VoteCounts", "VoteWindows", "count_votes", "drops", "freshness_report",
           "helpful_drops", "vote_span", "vote_windows", "windows_of"]
