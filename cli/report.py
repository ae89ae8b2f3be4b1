"""`deskbell report`: support metrics, content gaps and spikes in the terminal, JSON or markdown."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from widget_server import mail
from widget_server.errors import DeskbellError
from widget_server.events import EventStore
from widget_server.insights import (
    Durations,
    Gaps,
    Report,
    Spikes,
    TicketQueryGap,
    WebhookRefused,
    ZeroResultGap,
    day_range,
    format_duration,
    format_rate,
    load_report,
    post_webhook,
    to_jsonable,
)
from widget_server.insights.coverage import covered_in
from widget_server.insights.digest import (
    build_digest,
    digest_html,
    digest_text,
    digest_weeks,
    notice_line,
)
from widget_server.notices import NoticeBoard, open_notice_store
from widget_server.settings import Settings, SettingsError
from widget_server.team import open_team_store
from widget_server.tickets import open_ticket_store

from .options import settings_options

DAY = click.DateTime(formats=["%Y-%m-%d"])


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.ClickException(f"unknown time zone {name!r} (try UTC or Europe/Paris)") \
            from None


def resolve_range(since: date | None, until: date | None, tz: ZoneInfo,
                  today: date) -> tuple[datetime, datetime]:
    """[since midnight, the midnight after `until`) in tz; default: the 30 days ending today."""
    last = until or today
    first = since or last - timedelta(days=29)
    if first > last:
        raise click.ClickException(f"--since {first} is after --until {last}")
    return day_range(first, last, tz)


def read_report(settings: Settings, since: datetime, until: datetime, tz: ZoneInfo) -> Report:
    """Open the stores (purging expired event files first) and load the report from them."""
    if not Path(settings.data_dir).is_dir():
        raise click.ClickException(f"no Deskbell data in {settings.data_dir} (is --data-dir right?)")
    try:
        events = EventStore.from_settings(settings)  # its constructor applies retention
        return load_report(events, open_ticket_store(settings), since, until, tz,
                           settings.self_service_hours, names=_agent_names(settings))
    except OSError as exc:
        raise click.ClickException(f"cannot read {settings.data_dir}: {exc}") from None


def _agent_names(settings: Settings) -> dict[str, str]:
    """Agents' display names by id, for the per-agent section ({} when the team cannot be
    read: the section then shows ids)."""
    try:
        store = open_team_store(settings)
    except DeskbellError:
        return {}
    try:
        return {a.id: a.display_name for a in store.agents()}
    finally:
        store.close()


def _agent_lines(r: Report) -> list[str]:
    if not r.agents:
        return ["  none"]
    return [f"  {a.name}: first response {_times_line(a.first_response)}; resolution "
            f"{_times_line(a.resolution)}; CSAT {format_rate(a.csat)} ({a.ratings} ratings)"
            for a in r.agents]


# --- text --------------------------------------------------------------------------------------


def _rows(pairs: list[tuple[str, str]], indent: int = 2) -> list[str]:
    width = max((len(k) for k, _ in pairs), default=0)
    return [f"{' ' * indent}{k.ljust(width)}  {v}" for k, v in pairs]


def _bar(count: int, top: int, width: int = 30) -> str:
    return "#" * (round(width * count / top) if top else 0)


def _times_line(d: Durations) -> str:
    return f"median {format_duration(d.median)}, p90 {format_duration(d.p90)} ({d.count} tickets)"


def _variants(row: ZeroResultGap | TicketQueryGap) -> str:
    others = [q for q, _ in row.variants if q != row.query]
    return f"{row.query}" + (f" (also: {', '.join(others[:3])})" if others else "")


def _last_day(r: Report) -> date:
    return (r.until - timedelta(seconds=1)).date()


def text_report(r: Report) -> str:
    s, t, tm, sat = r.sessions, r.tickets, r.times, r.satisfaction
    out = [f"Deskbell report {r.since.date()} to {_last_day(r)} ({r.timezone})", "",
           "Self-service"]
    out += _rows([
        ("Help sessions", str(s.help_sessions)),
        ("Searched or read", str(s.engaged_sessions)),
        ("Self-service rate", format_rate(s.self_service_rate)),
        ("Search success", f"{format_rate(s.search_success_rate)} of {s.searches} searches"),
        ("Zero-result searches", format_rate(s.zero_result_rate)),
    ])
    ss, f = r.self_service, r.self_service.funnel
    out += ["", f"Self-service funnel ({f.engaged} sessions searched or read; decided after "
                f"{f.hours} h: {ss.decided})"]
    out += _rows([
        ("Searched", str(f.searched)),
        ("Read an article or answer", str(f.read)),
        ("Voted", str(f.voted)),
        ("Confirmed", f"{format_rate(ss.confirmed_rate)} ({f.confirmed})"),
        ("Assumed", f"{format_rate(ss.assumed_rate)} ({f.assumed})"),
        ("Escalated", f"{format_rate(ss.escalated_rate)} ({f.escalated})"),
        ("Too recent to tell", str(f.recent)),
    ])
    out += ["", f"Tickets: {t.total}"]
    top = max((n for _, n in t.per_day), default=0)
    out += [f"  {day}  {n:>4}  {_bar(n, top)}" for day, n in t.per_day]
    out += ["  By category: " + (", ".join(f"{c} {n}" for c, n in t.per_category) or "none")]
    out += _rows([
        ("First response", _times_line(tm.first_response) + f", {tm.unanswered} unanswered"),
        ("Resolution", _times_line(tm.resolution) + f", {tm.unresolved} unresolved"),
    ])
    nps = "\u2014" if sat.nps is None else f"{sat.nps:+.0f} ({sat.nps_answers} answers)"
    ces = "\u2014" if sat.ces is None else f"{sat.ces:.1f} of 7 ({sat.ces_answers})"
    out += ["", "Satisfaction"] + _rows([
        ("CSAT", f"{format_rate(sat.csat)} ({sat.ratings} ratings)"),
        ("CES", ces), ("NPS", nps)])
    out += ["", "Per agent"] + _agent_lines(r)
    out += ["", "Top searches"] + (_rows([(q, str(n)) for q, n in r.top_searches]) or
                                   ["  none"])
    out += ["", "Articles (views, helpful)"] + (_rows([
        (a.slug, f"{a.views} views, {format_rate(a.helpful_ratio)} helpful of {a.votes} votes")
        for a in r.articles[:10]]) or ["  none"])
    out += ["", *_gap_lines(r.gaps), "", *_spike_lines(r.spikes)]
    return "\n".join(out)


def _gap_lines(gaps: Gaps) -> list[str]:
    out = ["Content gaps", "  Searches with no results:"]
    out += [f"    {_variants(g)}: {g.searches} searches -> {g.action}"
            for g in gaps.zero_results] or ["    none"]
    out += ["  Searches that ended in a ticket:"]
    out += [f"    {_variants(g)}: {g.tickets} tickets of {g.sessions} sessions "
            f"-> {g.action}" for g in gaps.ticket_queries] or ["    none"]
    out += ["  Articles voted unhelpful:"]
    out += [f"    {g.slug}: {g.not_helpful} of {g.votes} votes unhelpful, "
            f"{g.then_ticket} then a ticket -> {g.action}"
            + (f" (reasons: {g.reason_summary})" if g.reason_counts else "")
            for g in gaps.unhelpful_articles] or ["    none"]
    return out


def _spike_lines(spikes: Spikes) -> list[str]:
    out = ["Spikes"]
    for label, found in (("last day", spikes.day), ("last 7 days", spikes.week)):
        for s in found:
            what = "tickets" if s.kind == "category" else "failed searches"
            out.append(f"  {s.topic} ({what}, {label}): {s.observed} vs {s.expected:.1f} expected,"
                       f" since {s.started:%Y-%m-%d %H:%M}")
    return out if len(out) > 1 else out + ["  none"]


# --- markdown ----------------------------------------------------------------------------------


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(head: list[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines if rows else lines + ["| " + " | ".join(["\u2014"] * len(head)) + " |"]


def markdown_report(r: Report) -> str:
    s, t, tm, sat = r.sessions, r.tickets, r.times, r.satisfaction
    out = [f"# Deskbell report {r.since.date()} to {_last_day(r)} ({r.timezone})", "",
           "## Summary", ""]
    out += _md_table(["Metric", "Value"], [
        ["Help sessions", s.help_sessions],
        ["Self-service rate", format_rate(s.self_service_rate)],
        ["Search success", format_rate(s.search_success_rate)],
        ["Zero-result searches", format_rate(s.zero_result_rate)],
        ["Confirmed self-service", f"{format_rate(r.self_service.confirmed_rate)} "
                                   f"({r.self_service.funnel.confirmed})"],
        ["Assumed self-service", f"{format_rate(r.self_service.assumed_rate)} "
                                 f"({r.self_service.funnel.assumed})"],
        ["Escalated within " + f"{r.self_service.funnel.hours} h",
         f"{format_rate(r.self_service.escalated_rate)} ({r.self_service.funnel.escalated})"],
        ["Tickets", t.total],
        ["First response (median / p90)", f"{format_duration(tm.first_response.median)} / "
                                          f"{format_duration(tm.first_response.p90)}"],
        ["Unanswered", tm.unanswered],
        ["Resolution (median / p90)", f"{format_duration(tm.resolution.median)} / "
                                      f"{format_duration(tm.resolution.p90)}"],
        ["CSAT", format_rate(sat.csat)],
        ["CES", "\u2014" if sat.ces is None else f"{sat.ces:.1f}"],
        ["NPS", "\u2014" if sat.nps is None else f"{sat.nps:+.0f}"],
    ])
    out += ["", "## Per agent", ""] + _md_table(
        ["Agent", "First responses", "Median", "p90", "Solved", "Median", "p90", "Ratings",
         "CSAT"],
        [[a.name, a.first_response.count, format_duration(a.first_response.median),
          format_duration(a.first_response.p90), a.resolution.count,
          format_duration(a.resolution.median), format_duration(a.resolution.p90), a.ratings,
          format_rate(a.csat)] for a in r.agents])
    out += ["", "## Tickets per day", ""] + _md_table(["Day", "Tickets"], t.per_day)
    out += ["", "## Tickets per category", ""] + _md_table(["Category", "Tickets"],
                                                            t.per_category)
    out += ["", "## Top searches", ""] + _md_table(["Query", "Searches"], r.top_searches)
    g = r.gaps
    out += ["", "## Searches with no results", ""] + _md_table(
        ["Query", "Searches", "Action"],
        [[_variants(x), x.searches, x.action] for x in g.zero_results])
    out += ["", "## Searches that ended in a ticket", ""] + _md_table(
        ["Query", "Tickets", "Sessions", "Action"],
        [[_variants(x), x.tickets, x.sessions, x.action] for x in g.ticket_queries])
    out += ["", "## Articles voted unhelpful", ""] + _md_table(
        ["Article", "Not helpful", "Votes", "Then a ticket", "Reasons", "Action"],
        [[x.slug, x.not_helpful, x.votes, x.then_ticket, x.reason_summary, x.action]
         for x in g.unhelpful_articles])
    spikes = [*r.spikes.day, *r.spikes.week]
    out += ["", "## Spikes", ""] + _md_table(
        ["Topic", "Kind", "Window", "Observed", "Expected", "Since"],
        [[x.topic, x.kind, f"{x.window_days}d", x.observed, f"{x.expected:.1f}",
          f"{x.started:%Y-%m-%d %H:%M}"] for x in spikes])
    return "\n".join(out)


FORMATS: dict[str, Callable[[Report], str]] = {
    "text": text_report,
    "markdown": markdown_report,
    "json": lambda r: json.dumps(to_jsonable(r), indent=2, ensure_ascii=False),
}


def range_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--since, --until and --tz: the days a report covers, for every command that reads one."""
    for option in reversed([
        click.option("--since", type=DAY, default=None,
                     help="First day (YYYY-MM-DD); default 29 days before --until."),
        click.option("--until", type=DAY, default=None,
                     help="Last day included (YYYY-MM-DD); default today."),
        click.option("--tz", "tz_name", default="UTC", show_default=True,
                     help="Time zone that days are counted in, e.g. Europe/Paris."),
    ]):
        command = option(command)
    return command


@click.command()
@range_options
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="text",
              show_default=True, help="Output format.")
@click.option("--alert", is_flag=True, help="POST any spikes to the webhook_url setting.")
@click.option("--digest", is_flag=True,
              help="Print the weekly digest instead: the 7 days ending --until (default "
                   "yesterday) against the 7 before, for cron.")
@click.option("--send", is_flag=True,
              help="With --digest: email it to notify_email through the smtp_* settings "
                   "instead of printing it.")
@settings_options
def report(settings: Settings, since: datetime | None, until: datetime | None, tz_name: str,
           fmt: str, alert: bool, digest: bool, send: bool) -> None:
    """Print support metrics, content gaps and spikes for a range of days.

    Days are whole calendar days in --tz. Event files older than events_retention_days
    are deleted first. Spikes compare the last day and week of the range with the four
    weeks before them; --alert also sends them to webhook_url (run it daily from cron).

    --digest prints the owner's weekly digest: each headline figure for the 7 days
    ending yesterday (or --until) against the 7 days before, the three content gaps to
    write first with the command that drafts them, and the week's spikes. --send emails
    it (text and HTML) to notify_email; it exits 2 if SMTP or notify_email is not set.

    \b
    Example:
        deskbell report
        deskbell report --since 2026-03-01 --until 2026-03-31 --tz Europe/Paris
        deskbell report --format markdown > report.md
        deskbell report --format json --alert
        deskbell report --digest --send --tz Europe/Paris
    """
    if send and not digest:
        raise click.UsageError("--send emails the weekly digest: add --digest")
    if digest:
        if since is not None:
            raise click.UsageError("--digest covers the 7 days ending --until (default "
                                   "yesterday): leave out --since")
        if fmt != "text" or alert:
            raise click.UsageError("--digest is plain text (and email with --send): leave "
                                   "out --format and --alert")
        _digest(settings, until and until.date(), tz_name, send)
        return
    tz = zone(tz_name)
    first, last = resolve_range(since and since.date(), until and until.date(), tz,
                                datetime.now(tz).date())
    result = read_report(settings, first, last, tz)
    click.echo(FORMATS[fmt](result))
    if alert:
        _send_alert(settings, result)


def _send_alert(settings: Settings, result: Report) -> None:
    spikes = [*result.spikes.day, *result.spikes.week]
    if not spikes:
        return
    if not settings.webhook_url:
        raise click.ClickException("--alert needs the webhook_url setting")
    payload = {"source": "deskbell", "spikes": [s.as_dict() for s in spikes]}
    try:
        status = post_webhook(settings.webhook_url, payload)
    except (WebhookRefused, OSError) as exc:
        raise click.ClickException(f"webhook not sent: {exc}") from None
    if status >= 300:
        raise click.ClickException(f"webhook answered HTTP {status}")
    click.echo(f"sent {len(spikes)} spike alert(s) to the webhook", err=True)


class NotConfigured(click.ClickException):
    """A command asked for something its settings do not allow: exit 2, like a usage error."""

    exit_code = 2


def showing_notices(settings: Settings) -> list[str]:
    """The notices the help panel shows now, newest first, one digest line each (from the
    store beside the tickets, as `deskbell notice list` reads it). A store that cannot be read
    leaves them out with a warning on stderr: the rest of the digest is still worth sending."""
    try:
        board = NoticeBoard(open_notice_store(settings), ttl=0)
        try:
            found = board.showing()
        finally:
            board.close()
    except (DeskbellError, SettingsError, OSError) as exc:
        why = exc.message if isinstance(exc, DeskbellError) else str(exc)
        click.echo(f"warning: the digest lists no notices: cannot read them ({why})", err=True)
        return []
    return [notice_line(n) for n in found]


def _digest(settings: Settings, until: date | None, tz_name: str, send: bool) -> None:
    """Print (or with `send`, email) the weekly digest of the 7 local days ending `until`
    (default yesterday) against the 7 before, the notices showing now listed first."""
    if send:
        missing = [name for name in ("smtp_host", "notify_email")
                   if not getattr(settings, name)]
        if missing:
            raise NotConfigured(
                f"--send needs the {' and '.join(missing)} setting{'s' * (len(missing) > 1)} "
                "(in deskbell.toml or as DESKBELL_SMTP_HOST / DESKBELL_NOTIFY_EMAIL)")
    tz = zone(tz_name)
    today = until + timedelta(days=1) if until else datetime.now(tz).date()
    (first, last), (before_first, before_last) = digest_weeks(today)
    this_week = read_report(settings, *day_range(first, last, tz), tz)
    last_week = read_report(settings, *day_range(before_first, before_last, tz), tz)
    result = build_digest(this_week, last_week, draft_dir=str(Path(settings.kb_dir) / "drafts"),
                          options=_store_options(settings),
                          notices=showing_notices(settings),
                          covered=covered_in(Path(settings.kb_dir)))
    if not send:
        click.echo(digest_text(result), nl=False)
        return
    message = mail.digest_message(settings, result.subject, digest_text(result),
                                  digest_html(result))
    try:
        mail.deliver(settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        raise click.ClickException(
            f"digest not sent to {settings.notify_email} via {settings.smtp_host}:"
            f"{settings.smtp_port}: {exc}") from None
    click.echo(f"sent the weekly digest {first} to {last} to {settings.notify_email}")


def _store_options(settings: Settings) -> list[str]:
    """--kb and --data-dir for a command printed for the reader, unless they are the defaults."""
    options = []
    for option, name, default in (("--kb", "kb_dir", "kb"), ("--data-dir", "data_dir",
                                                                "deskbell-data")):
        if Path(getattr(settings, name)) != Path(default):
            options += [option, str(getattr(settings, name))]
    return options


COMMANDS = [report]
