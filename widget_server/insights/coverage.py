"""Gaps marked covered: did the article written for a gap cut its failed searches and tickets?

    covering_articles(kb)            the published articles that still carry their draft's
                                     `sources`: each covers the queries listed there
    window_days(published, today)    N = min(30, days since publication), at least 1
    coverage(articles, events, ...)  before/after counts over two equal windows, one pass
    spans / coverage_of(..., store)  the windows' events, each read once from a store
    load_coverage(store, kb_dir...)  all of it from an event store and a KB folder: what
                                     `deskbell gaps --covered` and the admin page call
    covered_by(articles)(spellings)  the slug of the article that covers a gap, and
    relabel(actions, slug)           "covered by <slug>" for its "write an article"
    covered_in(kb_dir)(spellings)    covered_by over a KB folder (the CLI and the digest)
    covered_and_compared(events, kb) both, from a knowledge base read once (the admin page)

An article covers a gap when it is published (no `draft: true`) and its front matter still
holds the `sources` that `deskbell gaps --draft` wrote: the queries listed there, and every
spelling that groups with them by meaning (queries.cluster_queries, as the report groups
queries: "refund", "refunds" and "refnd" are one). The group is made from those queries
alone, not from the events, so the same searches count in both windows. Its publication day
is the front matter's `updated` date (or `date` when there is no `updated`).

The comparison, for a publication day P (local midnight in the report's zone) and N days:
before is [P - N days, P), after is [P, P + N days). In each window it counts the group's
zero-result searches, all its searches, and its tickets: `ticket_created` events whose session
searched the group earlier in the same window (the event's time, then the stored order,
decides "earlier", as in the report). Each ticket event counts once however many of the
group's queries its session searched. When P is today, N is 1 and the after window has not
ended yet: the row says so (`complete` is false).

Events are read through the store protocol only (`iter_events` once over each of the
windows, overlapping ones merged, and `days` for the oldest day kept), so JSON files and
PostgreSQL give the same rows. A before window that starts before the oldest day the store
holds (retention deleted it, or Deskbell was not running yet) is marked partial.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from ..articles import (
    Article,
    KnowledgeBase,
    Problem,
    _FrontMatterError,
    _parse_yaml,
    _split_front_matter,
    load_kb,
)
from ..articles import _date as front_matter_date
from ..events import SEARCH, TICKET_CREATED
from ..queries import _tolerance, cluster_queries, normalize_query, query_key
from ..text import edit_distance
from .facts import event_time
from .gaps import WRITE
from .metrics import local_midnight

DEFAULT_DAYS = 30
MAX_SOURCE_QUERIES = 50  # a hand-edited `sources` list cannot make every search a member
COVERED = "covered by"


# --- which gap an article covers ---------------------------------------------------------------


@dataclass(frozen=True)
class CoveringArticle:
    """A published article whose front matter names the gap it answers (`sources`)."""

    slug: str
    path: str
    title: str
    published: date | None  # `updated`, else `date`; None when neither is a date
    queries: tuple[str, ...]  # the sources' queries, normalized as searches are
    references: tuple[str, ...]  # the tickets the draft came from

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "path": self.path, "title": self.title,
                "published": self.published.isoformat() if self.published else None,
                "queries": list(self.queries), "references": list(self.references)}


@dataclass(frozen=True)
class _Group:
    """The query group of an article's `sources`, as cluster_queries makes it when those
    queries are the heads: a searched query belongs when it is one of them, or its key is
    one of theirs, or it lies within the tolerance of a cluster's head key (the rule
    cluster_queries applies to a query rarer than every head). A query of no content word
    ("how do i") only matches itself: every such query shares the empty key."""

    queries: frozenset[str]
    keys: frozenset[str]  # every source query's key ("" left out)
    heads: tuple[str, ...]  # the keys that start a cluster, in cluster_queries' order
    head_letters: tuple[frozenset[str], ...]  # the letters of each head

    @classmethod
    def of(cls, queries: Iterable[str]) -> _Group:
        queries = tuple(queries)
        clusters = cluster_queries({q: 1 for q in queries if query_key(q)})
        heads = tuple(dict.fromkeys(c.key for c in clusters.values()))
        return cls(frozenset(queries), frozenset(c for c in map(query_key, queries) if c),
                   heads, tuple(frozenset(head) for head in heads))

    def has(self, query: str, key: str) -> bool:
        """Whether `query` (whose query_key is `key`) belongs to the group."""
        return query in self.queries or self.has_key(key)

    def has_key(self, key: str) -> bool:
        """Whether every query whose query_key is `key` belongs to the group."""
        if not key:
            return False
        if key in self.keys:
            return True
        letters = frozenset(key)
        for head, head_letters in zip(self.heads, self.head_letters, strict=True):
            limit = _tolerance(head)
            # Each letter one key has and the other lacks takes an edit: a cheap bound that
            # spares most of the exact distances.
            if (abs(len(key) - len(head)) <= limit
                    and len(letters - head_letters) <= limit
                    and len(head_letters - letters) <= limit
                    and edit_distance(key, head, limit) <= limit):
                return True
        return False


def _group_test(queries: Iterable[str]) -> Callable[[str], bool]:
    """Whether a searched query belongs to the group of `queries` (see _Group)."""
    group = _Group.of(queries)
    return lambda query: group.has(query, query_key(query))


def _source_queries(sources: Any) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(queries, ticket references, problem) of a front matter `sources` value."""
    if not isinstance(sources, Mapping):
        return (), (), "sources: expected a mapping with a list of queries"
    rows = sources.get("queries")
    if not isinstance(rows, list):
        return (), (), "sources: expected `queries:` as a list"
    found: list[str] = []
    for row in rows:
        text = row.get("query") if isinstance(row, Mapping) else row
        if isinstance(text, str | int) and not isinstance(text, bool):
            query = normalize_query(str(text))
            if query and query not in found:
                found.append(query)
    if not found:
        return (), (), "sources: no query to cover"
    tickets = sources.get("tickets")
    references = tuple(str(t)[:100] for t in tickets if isinstance(t, str | int)) \
        if isinstance(tickets, list) else ()
    problem = (f"sources: only the first {MAX_SOURCE_QUERIES} of {len(found)} queries count"
               if len(found) > MAX_SOURCE_QUERIES else "")
    return tuple(found[:MAX_SOURCE_QUERIES]), references, problem


def read_front_matter(raw: bytes) -> dict[str, Any]:
    """An article file's front matter as parsed by articles.py ({} when it has none or it
    cannot be read: load_kb reports that)."""
    try:
        text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
        front, _, _ = _split_front_matter(text)
        return _parse_yaml(front) if front is not None else {}
    except (UnicodeDecodeError, _FrontMatterError):  # load_kb reports the file's problem
        return {}


def covering_article(article: Article, front: Mapping[str, Any]) -> tuple[
        CoveringArticle | None, str]:
    """The gap `article` covers (None when it covers none) and what is wrong with its
    `sources` ("" when nothing)."""
    if article.draft or "sources" not in front:
        return None, ""
    queries, references, problem = _source_queries(front["sources"])
    if not queries:
        return None, problem
    published = (dt.date.fromisoformat(article.updated) if article.updated
                 else front_matter_date(front.get("date")))
    return CoveringArticle(article.slug, article.path, article.title, published, queries,
                           references), problem


def covering_articles(kb: KnowledgeBase) -> tuple[tuple[CoveringArticle, ...],
                                                  tuple[Problem, ...]]:
    """Every published article of `kb` that covers a gap, by slug; and the problems of the
    `sources` that cover nothing or not all they list."""
    found, problems = [], []
    for article in kb.articles:
        if article.draft:
            continue
        try:
            raw = (kb.root / article.path).read_bytes()
        except OSError:
            continue
        covering, problem = covering_article(article, read_front_matter(raw))
        if problem:
            problems.append(Problem(article.path, 1, problem, "warning"))
        if covering is not None:
            found.append(covering)
    return tuple(sorted(found, key=lambda a: a.slug)), tuple(problems)


def covered_by(articles: Iterable[CoveringArticle]) -> Callable[[Iterable[str]], str | None]:
    """A test for a gap's spellings: the slug of the first article (by slug) whose group holds
    one of them, None when no article covers the gap."""
    tests = [(a.slug, _group_test(a.queries)) for a in articles]

    def slug_of(queries: Iterable[str]) -> str | None:
        spellings = [normalize_query(q) for q in queries]
        return next((slug for slug, member in tests if any(member(q) for q in spellings)),
                    None)

    return slug_of


def covered_in(kb_dir: Path) -> Callable[[Iterable[str]], str | None]:
    """covered_by over the published articles of the KB folder `kb_dir`; no article covers
    anything when the folder is missing."""
    return covered_by(covering_articles(load_kb(kb_dir))[0] if kb_dir.is_dir() else ())


# --- before and after --------------------------------------------------------------------------


def window_days(published: date, today: date, cap: int = DEFAULT_DAYS) -> int:
    """N: the days since publication, at most `cap`, at least 1."""
    return max(1, min(cap, (today - published).days))


@dataclass(frozen=True)
class Counts:
    """One window's figures for a covered group."""

    zero_result_searches: int = 0
    searches: int = 0
    tickets: int = 0


@dataclass(frozen=True)
class Coverage:
    """A covered gap: the article, its two equal windows and their counts."""

    article: CoveringArticle
    days: int  # N, the length of each window
    before_since: datetime
    published_at: datetime  # local midnight of the publication day: before ends, after starts
    after_until: datetime
    before: Counts
    after: Counts
    complete: bool  # the after window has ended (False when it still runs today)
    partial: bool = False  # the before window starts before the oldest day the store holds

    @property
    def change(self) -> Counts:
        """After minus before (negative: fewer)."""
        return Counts(self.after.zero_result_searches - self.before.zero_result_searches,
                      self.after.searches - self.before.searches,
                      self.after.tickets - self.before.tickets)

    def as_dict(self) -> dict[str, Any]:
        return {"article": self.article.as_dict(), "days": self.days,
                "before_since": self.before_since, "published_at": self.published_at,
                "after_until": self.after_until,
                "before": self.before, "after": self.after, "change": self.change,
                "complete": self.complete, "partial": self.partial}


@dataclass(frozen=True)
class CoverageReport:
    """Every covered gap: compared when the article has a past publication day, waiting
    (with the reason) otherwise; and the `sources` that could not be read."""

    rows: tuple[Coverage, ...]
    waiting: tuple[tuple[CoveringArticle, str], ...] = ()
    problems: tuple[Problem, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {"covered": list(self.rows),
                "waiting": [{**a.as_dict(), "reason": why} for a, why in self.waiting],
                "problems": [str(p) for p in self.problems]}


@dataclass
class _Window:
    """One window of one article, while the events are read (bounds in UTC, compared fast)."""

    since: datetime
    until: datetime
    zero: int = 0
    searches: int = 0
    first_search: dict[str, tuple[datetime, int]] = field(default_factory=dict)  # by session

    def counts(self, tickets: Sequence[tuple[datetime, int, str]]) -> Counts:
        """With the tickets (in time order) whose session searched the group before them
        in this window."""
        first = self.first_search
        start = bisect_left(tickets, (self.since,))
        end = bisect_left(tickets, (self.until,))
        return Counts(self.zero, self.searches, sum(
            1 for at, order, session in tickets[start:end]
            if session in first and first[session] < (at, order)))


def coverage(articles: Iterable[CoveringArticle], events: Iterable[Mapping[str, Any]],
             today: date, tz: ZoneInfo, days: int = DEFAULT_DAYS, *,
             kept_from: date | None = None) -> CoverageReport:
    """Before/after counts for each article with a publication day before or on `today`
    (local, in `tz`), from `events`: every event of the windows (see `spans`), in stored
    order. `kept_from`: the oldest UTC day the store holds (a before window starting
    earlier is `partial`); None: not known, nothing is marked. Pure: the caller reads the
    store.

    One pass: each distinct query is tested against every article's group once; a search
    adds to the windows of the articles that cover it; tickets are kept (time, stored order,
    session) and matched to the sessions' first searches at the end."""
    compared: list[tuple[CoveringArticle, int, _Window, _Window]] = []
    waiting: list[tuple[CoveringArticle, str]] = []
    for article in articles:
        if article.published is None:
            waiting.append((article, "no publication date: add `updated:` to its front matter"))
        elif article.published > today:
            waiting.append((article, f"published {article.published}, after today"))
        else:
            n = window_days(article.published, today, days)
            edges = [local_midnight(article.published + timedelta(k), tz).astimezone(UTC)
                     for k in (-n, 0, n)]
            compared.append((article, n, _Window(edges[0], edges[1]),
                             _Window(edges[1], edges[2])))
    groups = [_Group.of(article.queries) for article, _, _, _ in compared]
    covering: dict[str, tuple[tuple[_Window, _Window], ...]] = {}
    by_key: dict[str, tuple[bool, ...]] = {}  # spellings often share a key: test it once
    tickets: list[tuple[datetime, int, str]] = []
    for order, event in enumerate(events):
        kind = event["type"]
        if kind == TICKET_CREATED:
            if event.get("session"):
                tickets.append((event_time(event).astimezone(UTC), order,
                                str(event["session"])))
            continue
        if kind != SEARCH:
            continue
        query = str(event["data"].get("query") or "")
        windows = covering.get(query)
        if windows is None:
            key = query_key(query)
            if key not in by_key:
                by_key[key] = tuple(group.has_key(key) for group in groups)
            windows = covering[query] = tuple(
                (before, after) for group, near, (_, _, before, after)
                in zip(groups, by_key[key], compared, strict=True)
                if query and (near or query in group.queries))
        if not windows:
            continue
        at = event_time(event).astimezone(UTC)
        session = str(event.get("session") or "")
        zero = event["data"].get("results") == 0
        for pair in windows:
            for window in pair:
                if window.since <= at < window.until:
                    window.searches += 1
                    window.zero += zero
                    if session and (at, order) < window.first_search.get(session,
                                                                         (at, order + 1)):
                        window.first_search[session] = (at, order)
    tickets.sort()
    now_edge = local_midnight(today + timedelta(days=1), tz)
    kept = datetime.combine(kept_from, time(0), tzinfo=UTC) if kept_from else None
    return CoverageReport(
        rows=tuple(Coverage(article, n, before.since.astimezone(tz),
                            before.until.astimezone(tz), after.until.astimezone(tz),
                            before.counts(tickets), after.counts(tickets),
                            after.until < now_edge, kept is not None and before.since < kept)
                   for article, n, before, after in compared),
        waiting=tuple(waiting))


def spans(articles: Iterable[CoveringArticle], today: date, tz: ZoneInfo,
          days: int = DEFAULT_DAYS) -> tuple[tuple[datetime, datetime], ...]:
    """The windows `coverage` compares, overlapping ones merged: disjoint [since, until)
    ranges in time order, so that reading each once reads every event of the windows once
    and none between them (an article published a year ago does not read the year)."""
    ranges = sorted((local_midnight(p - timedelta(n), tz), local_midnight(p + timedelta(n), tz))
                    for p in (a.published for a in articles)
                    if p is not None and p <= today
                    for n in [window_days(p, today, days)])
    merged: list[tuple[datetime, datetime]] = []
    for since, until in ranges:
        if merged and since <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], until))
        else:
            merged.append((since, until))
    return tuple(merged)


class EventSource(Protocol):
    def iter_searches_and_tickets(self, since: datetime,
                                  until: datetime) -> Iterable[Mapping[str, Any]]: ...

    def days(self) -> list[date]: ...


def coverage_of(articles: tuple[CoveringArticle, ...], events: EventSource, today: date,
                tz: ZoneInfo, days: int = DEFAULT_DAYS) -> CoverageReport:
    """`coverage` over the events of the windows (`spans`), each read once from the store;
    a window that starts before the oldest day the store still holds (retention deleted
    the days before, or there were no events yet) is marked partial."""
    ranges = spans(articles, today, tz, days)
    held = events.days() if ranges else []
    found = chain.from_iterable(events.iter_searches_and_tickets(since, until)
                                for since, until in ranges)
    return coverage(articles, found, today, tz, days,
                    kept_from=held[0] if held else today + timedelta(days=1))


def load_coverage(events: EventSource, kb_dir: Path, today: date, tz: ZoneInfo,
                  days: int = DEFAULT_DAYS) -> CoverageReport:
    """Every covered gap of the knowledge base in `kb_dir`, compared before and after its
    article's publication (blocks on disk or the database: the server calls it on a worker
    thread). FileNotFoundError when `kb_dir` is not a folder."""
    return covered_and_compared(events, load_kb(kb_dir), today, tz, days)[1]


def covered_and_compared(events: EventSource, kb: KnowledgeBase | None, today: date,
                         tz: ZoneInfo, days: int = DEFAULT_DAYS
                         ) -> tuple[Callable[[Iterable[str]], str | None], CoverageReport]:
    """covered_by and the before/after comparison from one knowledge base already read (the
    admin page reads it once for this and the freshness list); None: no article covers
    anything. No event is read when no article covers a gap (coverage_of)."""
    articles, problems = covering_articles(kb) if kb is not None else ((), ())
    report = coverage_of(articles, events, today, tz, days)
    return covered_by(articles), CoverageReport(report.rows, report.waiting, problems)


def relabel(actions: Iterable[str], slug: str) -> tuple[str, ...]:
    """A covered gap's actions: "write an article" becomes "covered by <slug>"; when the
    report suggested something else (searches now find the article, so a synonym or a
    rewrite), "covered by <slug>" follows it."""
    covered = f"{COVERED} {slug}"
    return tuple(dict.fromkeys([*(covered if a == WRITE else a for a in actions), covered]))


__all__ = ["COVERED", "DEFAULT_DAYS", "Counts", "Coverage", "CoverageReport", "CoveringArticle",
           "coverage", "coverage_of", "covered_and_compared", "covered_by", "covered_in",
           "covering_article", "covering_articles", "load_coverage", "read_front_matter",
           "relabel", "spans", "window_days"]
