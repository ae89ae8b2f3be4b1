"""Content gaps: what to write next, from searches that failed or ended in a ticket, and votes.

Each list reads one `Activity`, so sessions are grouped and queries clustered once for all three
(and for the spikes).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from ..events import TICKET_CREATED, VOTE
from ..events.registry import vote_reason
from .activity import Activity, Event, search_query
from .metrics import Count

WRITE = "write an article"


def _variants(queries: Counter[str]) -> tuple[Count, ...]:
    return tuple(Count(*pair) for pair in queries.most_common())


@dataclass(frozen=True)
class ZeroResultGap:
    query: str  # the most searched spelling of the group
    variants: tuple[Count, ...]
    searches: int
    sessions: int
    action: str


def zero_result_gaps(activity: Activity, limit: int = 10) -> tuple[ZeroResultGap, ...]:
    """Zero-result searches grouped by meaning, most frequent first, with a suggested action.

    When some spelling in the group did find articles, the fix is a synonym or alias; when none
    ever did, the knowledge base lacks the article.
    """
    failed: dict[str, list[Event]] = defaultdict(list)
    found: set[str] = set()
    for event in activity.events:
        query = search_query(event)
        if not query:
            continue
        group = activity.queries.key(query)
        if event["data"].get("results") == 0:
            failed[group].append(event)
        else:
            found.add(group)
    rows = []
    for group, misses in failed.items():
        queries = Counter(search_query(e) for e in misses)
        rows.append(ZeroResultGap(
            query=queries.most_common(1)[0][0],
            variants=_variants(queries),
            searches=len(misses),
            sessions=len({e.get("session") for e in misses}),
            action="add a synonym or alias" if group in found else WRITE,
        ))
    rows.sort(key=lambda r: (-r.searches, r.query))
    return tuple(rows[:limit])


@dataclass(frozen=True)
class TicketQueryGap:
    query: str
    variants: tuple[Count, ...]
    tickets: int  # sessions that searched this group and then opened a ticket
    sessions: int  # sessions that searched this group
    ticket_rate: float
    references: tuple[str, ...]
    action: str


def ticket_query_gaps(activity: Activity, limit: int = 10) -> tuple[TicketQueryGap, ...]:
    """Queries searched in a session that then opened a ticket, by number of such tickets."""
    sessions_with: dict[str, set[str]] = defaultdict(set)
    ticketed: dict[str, dict[str, Any]] = {}
    for session, trail in activity.sessions.items():
        seen: dict[str, Event] = {}
        for event in trail:
            query = search_query(event)
            if query:
                group = activity.queries.key(query)
                seen[group] = event
                sessions_with[group].add(session)
            elif event["type"] == TICKET_CREATED:
                for group, search in seen.items():
                    row = ticketed.setdefault(group, {"queries": Counter(), "references": [],
                                                      "found": False, "sessions": set()})
                    row["queries"][search_query(search)] += 1
                    row["sessions"].add(session)
                    row["found"] |= bool(search["data"].get("results"))
                    if event["data"].get("reference"):
                        row["references"].append(event["data"]["reference"])
    rows = [TicketQueryGap(
        query=row["queries"].most_common(1)[0][0],
        variants=_variants(row["queries"]),
        tickets=len(row["sessions"]),
        sessions=len(sessions_with[group]),
        ticket_rate=len(row["sessions"]) / len(sessions_with[group]),
        references=tuple(row["references"][:5]),
        action="rewrite the articles this search finds" if row["found"] else WRITE,
    ) for group, row in ticketed.items()]
    rows.sort(key=lambda r: (-r.tickets, -r.ticket_rate, r.query))
    return tuple(rows[:limit])


@dataclass(frozen=True)
class ArticleGap:
    slug: str
    helpful: int
    not_helpful: int
    then_ticket: int  # not-helpful votes followed by a ticket in the same session
    references: tuple[str, ...]
    reasons: tuple[str, ...]  # the visitors' own words (a vote's comment), first 5 distinct
    votes: int
    helpful_ratio: float
    action: str
    # How many not-helpful votes gave each reason code (VOTE_REASONS), most given first; votes
    # stored before reasons existed give none (their free text is in `reasons`).
    reason_counts: tuple[Count, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The JSON row: every field, reason_counts as {code: votes} (most given first)."""
        return {"slug": self.slug, "helpful": self.helpful, "not_helpful": self.not_helpful,
                "then_ticket": self.then_ticket, "references": list(self.references),
                "reasons": list(self.reasons), "votes": self.votes,
                "helpful_ratio": self.helpful_ratio, "action": self.action,
                "reason_counts": {c.name: c.n for c in self.reason_counts}}

    @property
    def reason_summary(self) -> str:
        """E.g. "outdated 4, unclear 2"."""
        return ", ".join(f"{c.name} {c.n}" for c in self.reason_counts)


def article_gaps(activity: Activity, limit: int = 10,
                 min_votes: int = 3) -> tuple[ArticleGap, ...]:
    """Articles voted unhelpful: those most often followed by a ticket, then the worst ratio.

    An article is listed when a not-helpful vote was followed by a ticket in the same session,
    or when it has at least `min_votes` votes and fewer than 80% of them are helpful. Each row
    counts the reasons its not-helpful votes gave and keeps their comments; old votes (free
    text in data.reason) and new ones (a code in data.reason, text in data.comment) alike.
    """
    stats: dict[str, dict[str, Any]] = {}
    for trail in activity.sessions.values():
        downvoted: set[str] = set()
        for event in trail:
            slug = event["data"].get("slug")
            if event["type"] == VOTE and slug:
                row = stats.setdefault(slug, {"helpful": 0, "not_helpful": 0, "then_ticket": 0,
                                              "references": [], "reasons": [],
                                              "codes": Counter()})
                row["helpful" if event["data"].get("helpful") else "not_helpful"] += 1
                if not event["data"].get("helpful"):
                    downvoted.add(slug)
                    code, comment = vote_reason(event["data"])
                    if code:
                        row["codes"][code] += 1
                    if comment and comment not in row["reasons"]:
                        row["reasons"].append(comment)
            elif event["type"] == TICKET_CREATED:
                for down in downvoted:
                    stats[down]["then_ticket"] += 1
                    if event["data"].get("reference"):
                        stats[down]["references"].append(event["data"]["reference"])
                downvoted = set()
    rows = []
    for slug, row in stats.items():
        votes = row["helpful"] + row["not_helpful"]
        weak = votes >= min_votes and row["helpful"] < 0.8 * votes
        if row["not_helpful"] and (weak or row["then_ticket"]):
            rows.append(ArticleGap(
                slug=slug, helpful=row["helpful"], not_helpful=row["not_helpful"],
                then_ticket=row["then_ticket"], references=tuple(row["references"][:5]),
                reasons=tuple(row["reasons"][:5]), votes=votes,
                helpful_ratio=row["helpful"] / votes, action="rewrite this article",
                reason_counts=tuple(Count(code, n) for code, n in
                                    sorted(row["codes"].items(), key=lambda p: (-p[1], p[0])))))
    rows.sort(key=lambda r: (-r.then_ticket, r.helpful_ratio, -r.votes, r.slug))
    return tuple(rows[:limit])


@dataclass(frozen=True)
class Gaps:
    zero_results: tuple[ZeroResultGap, ...]
    ticket_queries: tuple[TicketQueryGap, ...]
    unhelpful_articles: tuple[ArticleGap, ...]


def content_gaps(activity: Activity, limit: int = 10) -> Gaps:
    """The three gap lists: zero-result searches, searches ending in tickets, unhelpful articles."""
    return Gaps(zero_result_gaps(activity, limit), ticket_query_gaps(activity, limit),
                article_gaps(activity, limit))


__all__ = ["ArticleGap", "Gaps", "TicketQueryGap", "ZeroResultGap", "article_gaps",
           "content_gaps", "ticket_query_gaps", "zero_result_gaps"]
