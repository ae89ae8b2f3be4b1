"""Content gaps: what to write next, from searches that failed or ended in a ticket, and votes.

Each list reads one `Activity`, so sessions are grouped and queries clustered once for all three
(and for the spikes).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..events.registry import vote_reason
from .activity import Activity
from .facts import ranked
from .metrics import Count

WRITE = "write an article"


def _variants(queries: Mapping[str, int]) -> tuple[Count, ...]:
    return tuple(Count(*pair) for pair in ranked(queries))


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
    rows = []
    for facts in activity.facts.zero.values():
        variants = _variants(facts.variants)
        rows.append(ZeroResultGap(
            query=variants[0].name,
            variants=variants,
            searches=sum(facts.variants.values()),
            sessions=facts.sessions,
            action="add a synonym or alias" if facts.found else WRITE,
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
    """Queries searched in a session that then opened a ticket, by number of such tickets.

    For each ticket, each group its session searched before it counts once, spelled as the
    group's latest search then; references in the order the tickets came."""
    grouped: dict[str, dict[str, Any]] = {}
    for row in activity.facts.ticket_searches:
        seen = grouped.setdefault(row.group, {"queries": Counter(), "references": [],
                                              "found": False, "sessions": set()})
        seen["queries"][row.query] += 1
        seen["sessions"].add(row.session)
        seen["found"] |= row.found
        if row.reference:
            seen["references"].append(row.reference)
    rows = []
    for group, seen in grouped.items():
        variants = _variants(seen["queries"])
        searched = activity.facts.group_sessions[group]
        rows.append(TicketQueryGap(
            query=variants[0].name,
            variants=variants,
            tickets=len(seen["sessions"]),
            sessions=searched,
            ticket_rate=len(seen["sessions"]) / searched,
            references=tuple(seen["references"][:5]),
            action="rewrite the articles this search finds" if seen["found"] else WRITE,
        ))
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

    Votes given in a session count. An article is listed when a not-helpful vote was followed
    by a ticket in the same session, or when it has at least `min_votes` votes and fewer than
    80% of them are helpful. Each row counts the reasons its not-helpful votes gave and keeps
    the first five distinct comments, in the order given; old votes (free text in data.reason)
    and new ones (a code in data.reason, text in data.comment) alike.
    """
    facts = activity.facts
    codes: dict[str, Counter[str]] = defaultdict(Counter)
    comments: dict[str, list[str]] = defaultdict(list)
    for vote in facts.downvotes:
        code, comment = vote_reason({"reason": vote.reason, "comment": vote.comment})
        if code:
            codes[vote.slug][code] += 1
        if comment and comment not in comments[vote.slug]:
            comments[vote.slug].append(comment)
    then: dict[str, list[str]] = defaultdict(list)
    for ticket in facts.tickets_after:
        then[ticket.slug].append(ticket.reference)
    rows = []
    for slug, (helpful, not_helpful) in facts.trail_votes.items():
        votes = helpful + not_helpful
        weak = votes >= min_votes and helpful < 0.8 * votes
        if not_helpful and (weak or then[slug]):
            rows.append(ArticleGap(
                slug=slug, helpful=helpful, not_helpful=not_helpful,
                then_ticket=len(then[slug]),
                references=tuple(r for r in then[slug] if r)[:5],
                reasons=tuple(comments[slug][:5]), votes=votes,
                helpful_ratio=helpful / votes, action="rewrite this article",
                reason_counts=tuple(Count(*pair) for pair in ranked(codes[slug]))))
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
