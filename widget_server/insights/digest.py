"""The owner's weekly digest: last week's figures against the week before, in a few lines.

    digest_weeks(today) -> ((first, last), (first, last))   this week and the week before
    build_digest(this_week, last_week, ...) -> Digest       from two `load_report` results
    digest_text(digest) / digest_html(digest)               the two renderings

`deskbell report --digest` prints digest_text for cron; with --send it emails both (mail.py
digest_message). It lists first the notices showing in the help panel when it runs
(notice_line), so the owner is reminded of a banner still up. A week is the 7 local days ending yesterday, in the report's time zone.
Rates are shown as whole percents and their change in points of those percents, so the figures
add up as printed; counts change by a percentage of last week's; durations by their difference.
Everything a visitor typed (search queries in gaps and spikes) is escaped in the HTML.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from html import escape

from ..notices import Notice
from .drafts import TopGap, top_gaps
from .report import Report, format_duration
from .spikes import Spike

DIGEST_GAPS = 3  # the content gaps a digest lists: the ones to write first
NONE = "\u2014"  # a figure without data (no searches, no ratings...)
SAME = "no change"


def digest_weeks(today: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """(first, last day) of the 7 days ending yesterday, and of the 7 days before them."""
    last = today - timedelta(days=1)
    return (last - timedelta(days=6), last), (last - timedelta(days=13), last - timedelta(days=7))


@dataclass(frozen=True)
class Figure:
    """One row of the digest: a figure this week, last week, and how it changed."""

    name: str
    this_week: str
    last_week: str
    change: str


@dataclass(frozen=True)
class Digest:
    first: date  # this week, both days included
    last: date
    before_first: date  # the week before
    before_last: date
    timezone: str
    figures: tuple[Figure, ...]
    gaps: tuple[TopGap, ...]
    draft_command: str  # `deskbell gaps ... --draft DIR` for exactly these gaps
    spikes: tuple[Spike, ...]
    notices: tuple[str, ...]  # active incident notices (see build_digest)
    subject: str


def _percent(rate: float | None) -> int | None:
    """A rate as a whole percent, halves rounded up (0.705 is 71%, as a person rounds)."""
    return None if rate is None else math.floor(100 * rate + 0.5)


def _rate(name: str, now: float | None, before: float | None) -> Figure:
    a, b = _percent(now), _percent(before)
    shown = [NONE if p is None else f"{p}%" for p in (a, b)]
    if a is None or b is None:
        change = NONE
    else:
        change = SAME if a == b else f"{a - b:+d} pts"
    return Figure(name, shown[0], shown[1], change)


def _count(name: str, now: int, before: int) -> Figure:
    if now == before:
        change = SAME
    elif before == 0:
        change = NONE  # no percentage of nothing
    else:
        change = f"{math.floor(100 * (now - before) / before + 0.5):+d}%"
    return Figure(name, str(now), str(before), change)


def _duration(name: str, now: float | None, before: float | None) -> Figure:
    shown = format_duration(now), format_duration(before)
    if now is None or before is None:
        change = NONE
    elif shown[0] == shown[1]:
        change = SAME
    else:
        change = ("+" if now > before else "-") + format_duration(abs(now - before))
    return Figure(name, shown[0], shown[1], change)


def figures(this_week: Report, last_week: Report) -> tuple[Figure, ...]:
    s, b = this_week.sessions, last_week.sessions
    return (
        _count("Help sessions", s.help_sessions, b.help_sessions),
        _rate("Self-service rate", s.self_service_rate, b.self_service_rate),
        _rate("Confirmed self-served", this_week.self_service.confirmed_rate,
              last_week.self_service.confirmed_rate),
        _rate("Search success", s.search_success_rate, b.search_success_rate),
        _rate("Zero-result searches", s.zero_result_rate, b.zero_result_rate),
        _count("Tickets created", this_week.tickets.total, last_week.tickets.total),
        _duration("Median first response", this_week.times.first_response.median,
                  last_week.times.first_response.median),
        _duration("Median resolution", this_week.times.resolution.median,
                  last_week.times.resolution.median),
        _rate("CSAT", this_week.satisfaction.csat, last_week.satisfaction.csat),
    )


def _days(report: Report) -> tuple[date, date]:
    return report.since.date(), (report.until - timedelta(seconds=1)).date()


def gaps_command(first: date, last: date, timezone: str, draft_dir: str,
                 options: Sequence[str] = ()) -> str:
    """The `deskbell gaps` command that drafts this digest's gaps: same days, same limit."""
    words = ["deskbell", "gaps", "--since", first.isoformat(), "--until", last.isoformat(),
             "--tz", timezone, "--limit", str(DIGEST_GAPS), "--draft", draft_dir, *options]
    return shlex.join(words)


def build_digest(this_week: Report, last_week: Report, *, draft_dir: str = "kb/drafts",
                 options: Sequence[str] = (), notices: Sequence[str] = (),
                 covered: Callable[[Iterable[str]], str | None] | None = None) -> Digest:
    """The digest of `this_week` against `last_week` (two `load_report` results).

    `draft_dir` and `options` (say ["--data-dir", "/srv/deskbell-data"]) complete the
    command that drafts the gaps. `notices`: the notices showing in the help panel, one line
    each (`notice_line`), listed first when there are any. `covered` (coverage.covered_in):
    the slug of the published article that already covers a gap's spellings; such gaps are
    not among the ones to write first.
    """
    to_write = [g for g in top_gaps(this_week)
                if covered is None or covered(v.query for v in g.variants) is None]
    first, last = _days(this_week)
    before_first, before_last = _days(last_week)
    rows = figures(this_week, last_week)
    sessions, rate = rows[0], rows[1]
    change = "" if rate.change == NONE else f" ({rate.change})"
    subject = (f"Deskbell weekly: {sessions.this_week} help sessions, "
               f"self-service {rate.this_week}{change}")
    return Digest(
        first=first, last=last, before_first=before_first, before_last=before_last,
        timezone=this_week.timezone, figures=rows, gaps=tuple(to_write[:DIGEST_GAPS]),
        draft_command=gaps_command(first, last, this_week.timezone, draft_dir, options),
        spikes=(*this_week.spikes.day, *this_week.spikes.week),
        notices=tuple(n.strip() for n in notices if n.strip()), subject=subject,
    )


# --- the words for gaps and spikes, shared by both renderings ----------------------------------


def gap_cost(gap: TopGap) -> str:
    """What the gap cost: "12 searches found nothing, 3 tickets followed a search"."""
    parts = []
    if gap.searches:
        parts.append(f"{gap.searches} searches found nothing")
    if gap.tickets:
        parts.append(f"{gap.tickets} tickets followed a search")
    return ", ".join(parts)


def gap_counts(gap: TopGap) -> str:
    """What the gap cost and what to do, as `deskbell gaps` says it."""
    return f"{gap_cost(gap)} -> {'; '.join(gap.actions)}"


def gap_also(gap: TopGap) -> str:
    others = [v.query for v in gap.variants if v.query != gap.query]
    return f" (also: {', '.join(others[:3])})" if others else ""


def notice_line(notice: Notice) -> str:
    """A notice as the digest lists it: its default text, when it stops showing (UTC), the
    article it links and its id (for `deskbell notice clear`)."""
    until = notice.until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    article = f", links {notice.article}" if notice.article else ""
    return f"{notice.text} (until {until}{article}; id {notice.id})"


def spike_line(spike: Spike) -> str:
    what = "tickets" if spike.kind == "category" else "failed searches"
    window = "last day" if spike.window_days == 1 else f"last {spike.window_days} days"
    return (f"{spike.topic} ({what}, {window}): {spike.observed} vs {spike.expected:.1f} "
            f"expected, since {spike.started:%Y-%m-%d %H:%M}")


def _heading(d: Digest) -> tuple[str, str]:
    return (f"Deskbell weekly digest: {d.first} to {d.last} ({d.timezone})",
            f"Compared with the week before, {d.before_first} to {d.before_last}.")


# --- plain text --------------------------------------------------------------------------------


def digest_text(d: Digest) -> str:
    """The digest as plain text: what the command prints and the email's text part."""
    title, compared = _heading(d)
    out = [title, compared, ""]
    if d.notices:
        out += ["Active notices"] + [f"  - {n}" for n in d.notices] + [""]
    head = ("", "This week", "Last week", "Change")
    rows = [head] + [(f.name, f.this_week, f.last_week, f.change) for f in d.figures]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        figures_ = zip(row[1:], widths[1:], strict=True)
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in figures_]
        out.append(("  " + "  ".join(cells)).rstrip())
    out += ["", "Content gaps to write first"]
    out += [f"  {n}. {g.query}{gap_also(g)}: {gap_counts(g)}"
            for n, g in enumerate(d.gaps, 1)] or ["  none this week"]
    if d.gaps:
        out += ["  Draft them with:", f"    {d.draft_command}"]
    out += ["", "Spikes"] + ([f"  {spike_line(s)}" for s in d.spikes] or ["  none"])
    return "\n".join(out) + "\n"


# --- HTML --------------------------------------------------------------------------------------

_CELL = 'style="padding:2px 12px 2px 0;text-align:{}"'


def digest_html(d: Digest) -> str:
    """The digest as an HTML email part; every piece of text is escaped."""
    title, compared = _heading(d)
    out = ['<!DOCTYPE html>', '<html><head><meta charset="utf-8">',
           f"<title>{escape(d.subject)}</title></head>",
           '<body style="font-family:sans-serif;line-height:1.4">',
           f"<h1 style=\"font-size:1.2em\">{escape(title)}</h1>", f"<p>{escape(compared)}</p>"]
    if d.notices:
        out += ["<h2 style=\"font-size:1em\">Active notices</h2>", "<ul>"]
        out += [f"<li>{escape(n)}</li>" for n in d.notices] + ["</ul>"]
    left, right = _CELL.format("left"), _CELL.format("right")
    out += ["<table>", f"<tr><th {left}></th><th {right}>This week</th>"
                       f"<th {right}>Last week</th><th {right}>Change</th></tr>"]
    out += [f"<tr><td {left}>{escape(f.name)}</td><td {right}>{escape(f.this_week)}</td>"
            f"<td {right}>{escape(f.last_week)}</td><td {right}>{escape(f.change)}</td></tr>"
            for f in d.figures]
    out += ["</table>", "<h2 style=\"font-size:1em\">Content gaps to write first</h2>"]
    if d.gaps:
        out += ["<ol>"] + [f"<li>{escape(g.query + gap_also(g))}: {escape(gap_counts(g))}</li>"
                           for g in d.gaps] + ["</ol>"]
        out += [f"<p>Draft them with: <code>{escape(d.draft_command)}</code></p>"]
    else:
        out += ["<p>None this week.</p>"]
    out += ["<h2 style=\"font-size:1em\">Spikes</h2>"]
    out += (["<ul>"] + [f"<li>{escape(spike_line(s))}</li>" for s in d.spikes] + ["</ul>"]
            if d.spikes else ["<p>None.</p>"])
    out += ["</body></html>"]
    return "\n".join(out) + "\n"


__all__ = ["DIGEST_GAPS", "Digest", "Figure", "build_digest", "digest_html", "digest_text",
           "digest_weeks", "figures", "gap_also", "gap_cost", "gap_counts", "gaps_command",
           "notice_line", "spike_line"]
