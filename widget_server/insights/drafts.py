"""From a content gap to an article draft: the visitors' questions, how agents answered, no PII.

    top_gaps(report, limit)        the gaps worth an article, out of the report's own gap lists
    draft_article(gap, lookup...)  one markdown file: front matter ready for the knowledge base
                                   (draft: true) and a body the author edits
    ticket_draft(ticket, taken)    the same from one solved or closed ticket: its question and
                                   the agent's answer (the admin's "Draft an article" on a ticket)
    redact(text, names)            emails, phone numbers, long digit runs and the ticket
                                   author's names replaced with [email], [phone], [number], [name]
    escape_markdown(text)          visitor text that stays text once rendered

A top gap is a search group (report.queries) taken from the typed Report, never recomputed:
searches that ended in a ticket first (each is a ticket an article could have prevented), in
the report's order, then searches that found nothing whose action is "write an article"; a
group in both lists is one gap. Zero-result groups that only need a synonym and articles voted
unhelpful need no new article, so they get no draft.

No language model writes anything here: the draft is the visitors' own words (deduplicated,
redacted, escaped) under fixed headings, and an agent's earlier answer, quoted, where a ticket
of the gap was solved or closed with one.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import yaml

from ..articles import slugify, slugify_slug
from ..queries import cluster_queries, normalize_query
from ..text import words
from .activity import Ticket
from .gaps import WRITE
from .report import Report

MAX_QUESTIONS = 8
MAX_ANSWERS = 3
MAX_TAGS = 8
MAX_SLUG = 60
ANSWERED = ("solved", "closed")
PREVIOUS_ANSWERS = "How we answered this before"
TicketLookup = Callable[[str], Ticket | None]

# --- redaction ---------------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# A phone-looking run: an optional +, then digits with spaces, dots, dashes, slashes or brackets.
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d \t().\-/]{5,}\d(?!\w)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DIGITS = re.compile(r"\d{5,}")
_SEPARATOR = re.compile(r"[ \t().\-/]")


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    if digits < 7 or _DATE.fullmatch(text):
        return _DIGITS.sub("[number]", text)
    if text.startswith("+") or _SEPARATOR.search(text):
        return "[phone]"
    return "[number]"


def _name_parts(names: Iterable[str]) -> list[str]:
    """Each full name, then each of its words of two characters or more, longest first."""
    parts: set[str] = set()
    for name in names:
        name = " ".join(str(name or "").split())
        if len(name) >= 2:
            parts.add(name)
            parts.update(word for word in name.split(" ") if len(word) >= 2
                         and any(c.isalnum() for c in word))
    return sorted(parts, key=lambda p: (-len(p), p))


def redact(text: str, names: Iterable[str] = ()) -> str:
    """`text` without personal data: emails become [email]; phone numbers [phone]; other runs
    of five digits or more (order numbers, postcodes, card numbers) [number]; and `names`
    (the ticket author's full name and each word of it, any case) [name].

    Dates written 2026-03-01 and short numbers (a year, a quantity) are kept.
    """
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub(_phone, text)
    text = _DIGITS.sub("[number]", text)
    for part in _name_parts(names):
        text = re.sub(rf"(?<![\w\[]){re.escape(part)}(?![\w\]])", "[name]", text,
                      flags=re.IGNORECASE)
    return text


# --- markdown that stays text ------------------------------------------------------------------

_INLINE = re.compile(r"([\\`*_\[\]#|])")
_LIST_NUMBER = re.compile(r"^(\d+)([.)])")


def _clean(text: str) -> str:
    """Without control characters (newlines and tabs kept)."""
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")


def escape_markdown(text: str) -> str:
    """One line of visitor text that renders as exactly that text: no link, image, HTML,
    emphasis, code, heading, list, quote, table or fence can start in it.

    HTML's `&`, `<` and `>` become entities; markdown's inline characters are escaped with a
    backslash; a line may not start as a block (list marker, number and dot, fence, setext
    underline, indented code).
    """
    line = " ".join(_clean(text).split())
    line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    line = _INLINE.sub(r"\\\1", line)
    if line[:1] in {"-", "+"}:
        line = "\\" + line
    elif line[:1] == "=":
        line = "&#61;" + line[1:]
    elif line[:1] == "~":
        line = "&#126;" + line[1:]
    else:
        line = _LIST_NUMBER.sub(r"\1\\\2", line)
    return line


def quote_markdown(text: str) -> str:
    """A blockquote of multi-line visitor or agent text, each line escaped and kept a line."""
    paragraphs = re.split(r"\n\s*\n", _clean(text).replace("\r\n", "\n").replace("\r", "\n"))
    blocks = []
    for paragraph in paragraphs:
        lines = [escape_markdown(line) for line in paragraph.split("\n") if line.strip()]
        if lines:
            blocks.append("  \n".join(f"> {line}" for line in lines))
    return "\n>\n".join(blocks)


# --- the gaps worth an article -----------------------------------------------------------------


@dataclass(frozen=True)
class GapQuery:
    """One spelling of a gap's question: zero-result searches and tickets that followed it."""

    query: str
    no_results: int
    then_ticket: int


@dataclass(frozen=True)
class TopGap:
    """A search group that needs an article, from the report's zero-result and ticket lists."""

    query: str  # the spelling the report shows first
    variants: tuple[GapQuery, ...]
    searches: int  # zero-result searches of the group
    tickets: int  # sessions that searched it and then opened a ticket
    references: tuple[str, ...]
    actions: tuple[str, ...]

    def has(self, query: str) -> bool:
        return any(v.query == query for v in self.variants)


def top_gaps(report: Report, limit: int | None = None) -> tuple[TopGap, ...]:
    """The report's gaps that call for an article, ticket gaps first (see the module doc)."""
    rows: dict[str, dict[str, Any]] = {}

    def group(query: str) -> str:
        return report.queries.key(query) if query in report.queries else query

    def row(query: str) -> dict[str, Any]:
        return rows.setdefault(group(query), {
            "query": query, "no_results": {}, "then_ticket": {}, "searches": 0, "tickets": 0,
            "references": [], "actions": []})

    for t in report.gaps.ticket_queries:
        r = row(t.query)
        r["then_ticket"].update(dict(t.variants))
        r["tickets"] += t.tickets
        r["references"] += [ref for ref in t.references if ref not in r["references"]]
        r["actions"].append(t.action)
    for z in report.gaps.zero_results:
        if z.action != WRITE and group(z.query) not in rows:
            continue  # another spelling finds articles: a synonym, not an article
        r = row(z.query)
        r["no_results"].update(dict(z.variants))
        r["searches"] += z.searches
        if z.action not in r["actions"]:
            r["actions"].append(z.action)
    gaps = []
    for r in rows.values():
        spellings = list(dict.fromkeys([r["query"], *r["then_ticket"], *r["no_results"]]))
        variants = tuple(GapQuery(q, r["no_results"].get(q, 0), r["then_ticket"].get(q, 0))
                         for q in spellings)
        gaps.append(TopGap(r["query"], variants, r["searches"], r["tickets"],
                           tuple(r["references"]), tuple(r["actions"])))
    return tuple(gaps if limit is None else gaps[:limit])


# --- one draft ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    slug: str  # the file's name without .md
    title: str
    aliases: tuple[str, ...]
    text: str  # the whole markdown file
    gap: TopGap

    @property
    def filename(self) -> str:
        return f"{self.slug}.md"


def sentence_case(text: str) -> str:
    """The first letter capitalized, and a lone "i" (as in "how do i") as "I"."""
    text = re.sub(r"(?<!\w)i(?=$|[\s'’])", "I", text)
    for i, c in enumerate(text):
        if c.isalpha():
            return text[:i] + c.upper() + text[i + 1:]
    return text


def file_slug(title: str, taken: Collection[str] = ()) -> str:
    """A file name (without .md) from the title: slugified, at most 60 characters at a word
    boundary, "draft" for a title with no letter or digit it can keep, -2, -3... when taken."""
    slug = slugify(title)
    if len(slug) > MAX_SLUG:
        slug = slug[:MAX_SLUG].rsplit("-", 1)[0] or slug[:MAX_SLUG]
    slug = slug or "draft"
    stem, n = slug, 1
    while slug in taken:
        n += 1
        slug = f"{stem}-{n}"
    return slug


def _tickets(gap: TopGap, lookup: TicketLookup) -> list[Ticket]:
    found = []
    for reference in gap.references:
        ticket = lookup(reference)
        if ticket is not None:
            found.append(ticket)
    return found


def _author_names(tickets: Iterable[Ticket]) -> list[str]:
    names = []
    for ticket in tickets:
        names.append(str(ticket.get("name") or ""))
        names += [str(e.get("author_name") or "") for e in ticket.get("thread") or ()
                  if e.get("author") == "visitor"]
    return [n for n in names if n.strip()]


def _previous_answer(ticket: Ticket) -> str:
    """The last agent reply of a solved or closed ticket ("" when there is none)."""
    if ticket.get("status") not in ANSWERED:
        return ""
    replies = [str(e.get("body") or "") for e in ticket.get("thread") or ()
               if e.get("author") == "agent" and str(e.get("body") or "").strip()]
    return replies[-1] if replies else ""


def _questions(gap: TopGap, tickets: Iterable[Ticket], names: list[str]) -> list[str]:
    """The visitors' questions, redacted: the gap's search, then each ticket's subject, one per
    meaning (grouped as the report groups queries, so "Refunds?" repeats "refund"). A subject
    replaces the search it repeats: it has the visitor's capitals and question mark."""
    asked = [(gap.query, False), *((str(t.get("subject") or ""), True) for t in tickets)]
    texts = [(" ".join(redact(_clean(text), names).split()), typed) for text, typed in asked]
    keyed = [(normalize_query(text), text, typed) for text, typed in texts]
    clusters = cluster_queries(Counter(key for key, _, _ in keyed if key))
    found: dict[str, str] = {}
    for key, text, typed in keyed:
        if key and (clusters[key].key not in found or typed and not found[clusters[key].key]):
            found[clusters[key].key] = text if typed else ""
    first = sentence_case(texts[0][0])
    return [text or first for text in found.values()][:MAX_QUESTIONS]


def _front_matter(data: Mapping[str, Any]) -> str:
    dumped = yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, width=1000,
                            default_flow_style=False)
    return f"---\n{dumped}---\n"


def _period(report: Report | None) -> str:
    if report is None:
        return ""
    last = (report.until - timedelta(seconds=1)).date()
    return f"{report.since.date()} to {last} ({report.timezone})"


def _best_spelling(gap: TopGap, known: Container[str] | None) -> str:
    """The gap's most asked spelling whose every word the knowledge base uses ("refund" over
    a more frequent "refnd"); the most asked one when none is, or no vocabulary is given."""
    if known is not None:
        by_count = sorted(gap.variants, key=lambda v: -(v.no_results + v.then_ticket))
        for variant in by_count:
            said = words(variant.query)
            if said and all(word in known for word in said):
                return variant.query
    return gap.query


def draft_article(gap: TopGap, lookup: TicketLookup, *, report: Report | None = None,
                  taken: Collection[str] = (), prefix: str = "",
                  files: Collection[str] = (), known: Container[str] | None = None) -> Draft:
    """The markdown draft of one gap. `lookup` finds a ticket by reference (a store's `get`);
    `taken` holds the slugs and aliases already in use (the knowledge base's, earlier
    drafts'), `prefix` the slug folder the file will live in, so that no alias clashes with
    them; `files` the file names (without .md) already chosen in this batch; `known` the
    words of the knowledge base (the index's vocabulary), so the title is spelt right."""
    tickets = _tickets(gap, lookup)
    names = _author_names(tickets)
    asked = _best_spelling(gap, known)
    title = sentence_case(" ".join(redact(_clean(asked), names).split())) or "Untitled"
    slug = file_slug(title, files)
    own = slugify_slug(f"{prefix}/{slug}" if prefix else slug)
    spellings = [redact(_clean(v.query), names) for v in gap.variants]
    tags = list(dict.fromkeys(t for t in (slugify(s) for s in spellings) if t))[:MAX_TAGS]
    # Never the file's own name: the draft may be moved to the top of the knowledge base.
    aliases = [a for a in dict.fromkeys(slugify(s) for s in spellings)
               if a and a not in {own, slug} and a not in taken]
    sources: dict[str, Any] = {}
    if report is not None:
        sources["range"] = _period(report)
    sources["queries"] = [
        {"query": s, **({"no_results": v.no_results} if v.no_results else {}),
         **({"then_ticket": v.then_ticket} if v.then_ticket else {})}
        for s, v in zip(spellings, gap.variants, strict=True)]
    if gap.references:
        sources["tickets"] = list(gap.references)
    sources["actions"] = list(gap.actions)
    front: dict[str, Any] = {"title": title, "draft": True}
    if tags:
        front["tags"] = tags
    if aliases:
        front["aliases"] = aliases
    front["sources"] = sources
    body = _body(gap, tickets, names, report)
    return Draft(slug=slug, title=title, aliases=tuple(aliases),
                 text=_front_matter(front) + body, gap=gap)


def _body(gap: TopGap, tickets: list[Ticket], names: list[str], report: Report | None) -> str:
    counts = []
    if gap.searches:
        counts.append(f"{gap.searches} searches found nothing")
    if gap.tickets:
        counts.append(f"{gap.tickets} tickets followed a search")
    period = _period(report)
    out = [
        f"_Draft from Deskbell's content gaps{' for ' + period if period else ''}: "
        f"{', '.join(counts) or 'visitors asked this'}. Suggested: "
        f"{'; '.join(gap.actions)}. Replace this line with a short answer (visitors in the "
        "panel rarely scroll), answer each question below in your own words, delete what "
        "does not apply, then remove `draft: true`._",
        "",
    ]
    for question in _questions(gap, tickets, names):
        out += [f"## {escape_markdown(question)}", "", "Write the answer here.", ""]
    answers: dict[str, str] = {}
    for ticket in tickets:
        answer = redact(_previous_answer(ticket), names).strip()
        if answer and answer not in answers:
            answers[answer] = f"{ticket.get('reference', '')} ({ticket.get('status')})"
    if answers:
        out += [f"## {PREVIOUS_ANSWERS}", ""]
        for answer, source in list(answers.items())[:MAX_ANSWERS]:
            out += [quote_markdown(answer), "", f"_From ticket {escape_markdown(source)}._", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def draft_articles(report: Report, lookup: TicketLookup, limit: int | None = None,
                   taken: Collection[str] = (), prefix: str = "",
                   known: Container[str] | None = None,
                   covered: Callable[[TopGap], str | None] | None = None) -> tuple[Draft, ...]:
    """A draft for each top gap, with file names and aliases unique among them and `taken`.
    A gap that `covered` names an article for (its slug: a published article answers it,
    insights/coverage.py) gets no draft."""
    used, files = set(taken), set[str]()
    drafts = []
    for gap in top_gaps(report, limit):
        if covered is not None and covered(gap):
            continue
        draft = draft_article(gap, lookup, report=report, taken=used, prefix=prefix,
                              files=files, known=known)
        files.add(draft.slug)
        used.add(slugify_slug(f"{prefix}/{draft.slug}" if prefix else draft.slug))
        used.update(draft.aliases)
        drafts.append(draft)
    return tuple(drafts)


# --- a draft from one answered ticket -----------------------------------------------------------


def ticket_draftable(ticket: Ticket) -> bool:
    """Whether a ticket can become a draft: solved or closed, with an agent's reply to quote."""
    return bool(_previous_answer(ticket).strip())


def _ticket_names(ticket: Ticket) -> list[str]:
    """Every name the ticket holds: the visitor's (as for gaps), the agents' who replied (a
    signature in an answer is no business of the article's readers), and the part of the
    visitor's address before the @ (a user name written out in a message)."""
    names = _author_names([ticket])
    names += [str(e.get("author_name") or "") for e in ticket.get("thread") or ()
              if e.get("author") == "agent"]
    local = str(ticket.get("email") or "").partition("@")[0]
    if len(local) >= 3:
        names.append(local)
    return [n for n in names if n.strip()]


def _visitor_question(ticket: Ticket) -> str:
    """The visitor's first message, in their words (the ticket's `message` without one)."""
    for entry in ticket.get("thread") or ():
        if entry.get("author") == "visitor" and str(entry.get("body") or "").strip():
            return str(entry["body"])
    return str(ticket.get("message") or "")


def _one_line(text: str, names: list[str]) -> str:
    return " ".join(redact(_clean(text), names).split())


def ticket_draft(ticket: Ticket, taken: Collection[str] = ()) -> Draft:
    """The markdown draft of one solved or closed ticket (ValueError for one that is not
    `ticket_draftable`): front matter as a gap draft's (draft: true, the title from the
    subject; tags from the visitor's searches before writing; `sources` naming the ticket and,
    as its queries, those searches, or the subject without any), then the visitor's question
    quoted in their words and the last agent reply under PREVIOUS_ANSWERS, everything redacted
    and escaped. `taken`: the slugs in use, so the file name is new."""
    answer_text = _previous_answer(ticket)
    if not answer_text.strip():
        raise ValueError("only a solved or closed ticket with an agent's reply can be drafted")
    names = _ticket_names(ticket)
    reference = str(ticket.get("reference") or "")
    status = str(ticket.get("status") or "")
    subject = _one_line(str(ticket.get("subject") or ""), names)
    title = sentence_case(subject) or "Untitled"
    slug = file_slug(title, taken)
    searches = [_one_line(str(s.get("q") or ""), names)
                for s in (ticket.get("trail") or {}).get("searches") or ()
                if isinstance(s, Mapping)]
    searched = list(dict.fromkeys(q for q in searches if q))
    queries = searched or ([subject] if subject else [])
    tags = list(dict.fromkeys(t for t in (slugify(q) for q in searched) if t))[:MAX_TAGS]
    front: dict[str, Any] = {"title": title, "draft": True}
    if tags:
        front["tags"] = tags
    front["sources"] = {"tickets": [reference], "queries": [{"query": q} for q in queries],
                        "actions": [WRITE]}
    source = f"{reference} ({status})"
    body = [
        f"_Draft from ticket {escape_markdown(source)}, answered by an agent. Replace this "
        "line with a short answer (visitors in the panel rarely scroll), answer the question "
        "below in your own words for every visitor who asks it, then remove `draft: true`._",
        "",
        f"## {escape_markdown(title)}",
        "",
        "The visitor wrote:",
        "",
        quote_markdown(redact(_visitor_question(ticket), names)) or "> (no message)",
        "",
        "Write the answer here.",
        "",
        f"## {PREVIOUS_ANSWERS}",
        "",
        quote_markdown(redact(answer_text, names).strip()),
        "",
        f"_From ticket {escape_markdown(source)}._",
    ]
    gap = TopGap(subject, tuple(GapQuery(q, 0, 1) for q in queries), 0, 1, (reference,),
                 (WRITE,))
    return Draft(slug=slug, title=title, aliases=(), text=_front_matter(front) +
                 "\n".join(body) + "\n", gap=gap)


__all__ = ["ANSWERED", "PREVIOUS_ANSWERS", "Draft", "GapQuery", "TopGap", "draft_article",
           "draft_articles", "escape_markdown", "file_slug", "quote_markdown", "redact",
           "sentence_case", "ticket_draft", "ticket_draftable", "top_gaps"]
