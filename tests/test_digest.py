"""`deskbell report --digest`: a scripted fortnight through the real stores, printed and
emailed over real SMTP (aiosmtpd on loopback)."""

from __future__ import annotations

import shlex
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from cli.main import main
from tests.insights_seed import _ticket
from widget_server.events import EventStore, NewEvent
from widget_server.insights import day_range, load_report
from widget_server.insights.digest import build_digest, digest_html, digest_text, digest_weeks
from widget_server.notices import JSONNoticeStore, Notice
from widget_server.tickets import JSONTicketStore

from .adversarial.test_sinks import PAYLOADS
from .conftest import free_port
from .test_mail import Inbox, smtp  # noqa: F401  (a real SMTP server on loopback)

KEEP = {"DESKBELL_EVENTS_RETENTION_DAYS": "3650"}  # the fortnight lies in March 2026
# Hostile text a visitor can type into the search box, kept whole by normalization (which
# only trims punctuation at the ends): it reaches the digest as a content gap.
HOSTILE = f"refund {PAYLOADS[0]} {PAYLOADS[1]} & {PAYLOADS[3]} now"
SHOWN = "refund <script>alert(1)</script> <img src=x onerror=alert(1)> & " \
        '"><iframe src="javascript:alert(1)"> now'


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


class Fortnight:
    """Two scripted weeks: 2026-03-02..08 ("last week") and 2026-03-09..15 ("this week")."""

    def __init__(self, data_dir: Path) -> None:
        self.events = EventStore(data_dir, retention_days=3650)
        self.tickets = JSONTicketStore(data_dir)
        self.sessions = 0

    def session(self, start: datetime, query: str, results: int, read: bool = False,
                ticket: dict[str, Any] | None = None) -> None:
        """A visitor opens the panel, searches, maybe reads an article, maybe opens a ticket."""
        self.sessions += 1
        sid = f"s_{self.sessions:022d}"
        events = [NewEvent(sid, "widget_open", {"page_url": "https://shop.example/"}, start),
                  NewEvent(sid, "search", {"query": query, "results": results},
                           start + timedelta(seconds=10))]
        if read:
            events.append(NewEvent(sid, "article_view", {"slug": "billing/refunds"},
                                   start + timedelta(seconds=20)))
        if ticket is not None:
            self.tickets.add(ticket)
            events.append(NewEvent(sid, "ticket_created", {"reference": ticket["reference"],
                                                           "category": "Billing"},
                                   datetime.fromisoformat(ticket["created_at"])))
        self.events.append_many(events)

    def opened_only(self, start: datetime) -> None:
        self.sessions += 1
        self.events.append(f"s_{self.sessions:022d}", "widget_open",
                           {"page_url": "https://shop.example/"}, start)


def ticket(ref: str, created: datetime, reply_after: timedelta,
           solve_after: timedelta | None = None, csat: int | None = None,
           subject: str = "Help") -> dict[str, Any]:
    t = _ticket(ref, created, "Billing", subject)
    t.update(first_reply_at=(created + reply_after).isoformat(), status="pending")
    if solve_after is not None:
        solved = created + solve_after
        t.update(solved_at=solved.isoformat(), status="solved", resolution_count=1)
        if csat is not None:
            t["ratings"] = [{"csat": csat, "ces": 2, "comment": "", "resolution": 1,
                             "at": (solved + timedelta(hours=1)).isoformat()}]
    return t


def write_fortnight(data: Path) -> Path:
    f = Fortnight(data)
    # Last week: 4 help sessions, 3 searched, 2 of them found and read an answer; one
    # "dark mode" search found nothing and became a ticket answered in 1h, solved in 4h,
    # rated 5; one visitor only opened the panel.
    f.session(at(2, 9), "refund", 3, read=True)
    f.session(at(4, 9), "refund", 3, read=True)
    f.session(at(5, 9), "dark mode", 0,
              ticket=ticket("DB-LW1", at(5, 9, 5), timedelta(hours=1), timedelta(hours=4), 5))
    f.opened_only(at(8, 23, 59))
    # This week: 5 sessions; 3 read an answer; the hostile search and "dark mode" found
    # nothing and became tickets: one answered in 30m, solved in 2h and rated 2, the other
    # answered in 90m and still open.
    f.session(at(9, 0, 1), "refund", 3, read=True)
    f.session(at(10, 9), "refund", 3, read=True)
    f.session(at(11, 9), "refund", 3, read=True)
    f.session(at(12, 9), HOSTILE, 0,
              ticket=ticket("DB-TW1", at(12, 9, 5), timedelta(minutes=30), timedelta(hours=2),
                            2, subject=PAYLOADS[2]))
    f.session(at(15, 22), "dark mode", 0,
              ticket=ticket("DB-TW2", at(15, 22, 5), timedelta(minutes=90)))
    # Outside both weeks: the Monday after, and the Sunday before.
    f.session(at(16, 0, 0), "refund", 0)
    f.session(at(1, 23, 59), "refund", 0)
    return data


@pytest.fixture
def fortnight(tmp_path: Path) -> Path:
    return write_fortnight(tmp_path / "data")


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={**KEEP, **(env or {})})
    return result.exit_code, result.stdout, result.stderr


EXPECTED = f"""\
Deskbell weekly digest: 2026-03-09 to 2026-03-15 (UTC)
Compared with the week before, 2026-03-02 to 2026-03-08.

                         This week  Last week     Change
  Help sessions                  5          4       +25%
  Self-service rate            60%        67%     -7 pts
  Confirmed self-served         0%         0%  no change
  Search success               60%        67%     -7 pts
  Zero-result searches         40%        33%     +7 pts
  Tickets created                2          1      +100%
  Median first response         1h         1h  no change
  Median resolution             2h         4h        -2h
  CSAT                          0%       100%   -100 pts

Content gaps to write first
  1. dark mode: 1 searches found nothing, 1 tickets followed a search -> write an article
  2. {SHOWN}: 1 searches found nothing, 1 tickets followed a search -> write an article
  Draft them with:
    deskbell gaps --since 2026-03-09 --until 2026-03-15 --tz UTC --limit 3 --draft \
{{kb}}/drafts --kb {{kb}} --data-dir {{data}}

Spikes
  none
"""


def test_the_digest_prints_each_figure_this_week_last_week_and_the_change(
        fortnight: Path, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    code, out, err = run("report", "--digest", "--until", "2026-03-15", "--data-dir",
                         str(fortnight), "--kb", str(kb))
    assert (code, err) == (0, "")
    assert out == EXPECTED.format(kb=kb, data=fortnight)


def test_the_command_it_prints_drafts_exactly_those_gaps(fortnight: Path, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    _, out, _ = run("report", "--digest", "--until", "2026-03-15", "--data-dir",
                    str(fortnight), "--kb", str(kb))
    command = shlex.split(out.split("Draft them with:\n")[1].splitlines()[0])
    assert command[0] == "deskbell"
    code, drafted, err = run(*command[1:])
    assert code == 0, err
    lines = drafted.splitlines()
    assert lines[1].startswith("  1. dark mode: 1 searches found nothing")
    assert lines[2].startswith(f"  2. {SHOWN}: 1 searches found nothing")
    assert lines[-1] == "drafts: 2 written, 0 skipped"
    assert len(list((kb / "drafts").glob("*.md"))) == 2


def test_weeks_are_the_7_local_days_ending_yesterday() -> None:
    assert digest_weeks(date(2026, 3, 16)) == ((date(2026, 3, 9), date(2026, 3, 15)),
                                               (date(2026, 3, 2), date(2026, 3, 8)))


def test_without_until_this_week_ends_yesterday_in_the_chosen_zone(tmp_path: Path) -> None:
    f = Fortnight(tmp_path / "data")
    now = datetime.now(UTC)
    f.session(now - timedelta(days=1, hours=0), "refund", 3, read=True)  # this week
    f.session(now - timedelta(days=9), "refund", 3, read=True)  # last week
    f.session(now - timedelta(days=9, minutes=5), "refund", 3, read=True)
    yesterday = now.date() - timedelta(days=1)
    _, out, _ = run("report", "--digest", "--data-dir", str(tmp_path / "data"))
    assert out.splitlines()[0] == (f"Deskbell weekly digest: {yesterday - timedelta(days=6)} "
                                   f"to {yesterday} (UTC)")
    assert "  Help sessions                  1          2       -50%" in out.splitlines()


def test_days_are_counted_in_the_chosen_zone(fortnight: Path) -> None:
    # Tokyo is 9 hours ahead: the panel opened at 23:59 UTC on the 8th counts this week,
    # the search at 23:59 UTC on the 1st last week, and the "dark mode" ticket of 22:05 UTC
    # on the 15th falls on the 16th, after the digest's week.
    _, out, _ = run("report", "--digest", "--until", "2026-03-15", "--tz", "Asia/Tokyo",
                    "--data-dir", str(fortnight))
    lines = out.splitlines()
    assert lines[0] == "Deskbell weekly digest: 2026-03-09 to 2026-03-15 (Asia/Tokyo)"
    assert lines[4:11] == [
        "  Help sessions                  5          4       +25%",
        "  Self-service rate            75%        75%  no change",
        "  Confirmed self-served         0%         0%  no change",
        "  Search success               75%        50%    +25 pts",
        "  Zero-result searches         25%        50%    -25 pts",
        "  Tickets created                1          1  no change",
        "  Median first response        30m         1h       -30m",
    ]
    assert "--tz Asia/Tokyo" in out


@pytest.mark.parametrize(("args", "problem"), [
    (["--send"], "--send emails the weekly digest: add --digest"),
    (["--digest", "--since", "2026-03-01"], "leave out --since"),
    (["--digest", "--format", "json"], "leave out --format and --alert"),
    (["--digest", "--alert"], "leave out --format and --alert"),
])
def test_options_that_do_not_go_with_the_digest_are_refused(fortnight: Path, args: list[str],
                                                             problem: str) -> None:
    code, out, err = run("report", *args, "--data-dir", str(fortnight))
    assert code == 2 and out == ""
    assert problem in err


# --- email -------------------------------------------------------------------------------------


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parts(message: Message) -> dict[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found


def test_send_emails_the_digest_as_text_and_escaped_html(fortnight: Path, tmp_path: Path,
                                                         smtp: tuple[Inbox, int],  # noqa: F811
                                                         ) -> None:
    inbox, port = smtp
    kb = tmp_path / "kb"
    mail_env = {"DESKBELL_SMTP_HOST": "127.0.0.1", "DESKBELL_SMTP_PORT": str(port),
                "DESKBELL_NOTIFY_EMAIL": "owner@example.com",
                "DESKBELL_MAIL_FROM": "help@example.com"}
    code, out, err = run("report", "--digest", "--send", "--until", "2026-03-15",
                         "--data-dir", str(fortnight), "--kb", str(kb), env=mail_env)
    assert (code, err) == (0, "")
    assert out == "sent the weekly digest 2026-03-09 to 2026-03-15 to owner@example.com\n"
    [(to, message)] = inbox.messages
    assert to == ["owner@example.com"] and message["From"] == "help@example.com"
    assert message["Subject"] == "Deskbell weekly: 5 help sessions, self-service 60% (-7 pts)"
    assert message.get_content_type() == "multipart/alternative"
    found = parts(message)
    assert sorted(found) == ["text/html", "text/plain"]
    # The text part is what the command prints.
    assert found["text/plain"].replace("\r\n", "\n") == EXPECTED.format(kb=kb, data=fortnight)
    html = found["text/html"]
    page = Tags()
    page.feed(html)
    # Only the digest's own markup: the visitor's <script>, <img>, <iframe> stay text.
    assert set(page.tags) == {"html", "head", "meta", "title", "body", "h1", "h2", "p",
                              "table", "tr", "th", "td", "ol", "li", "code"}
    for raw in ("<script", "<img", "<iframe", 'src="javascript'):
        assert raw not in html
    text = "".join(page.text)
    assert f"{SHOWN}: 1 searches found nothing, 1 tickets followed a search" in text
    for row in ("Help sessions", "5", "4", "+25%", "CSAT", "0%", "100%", "-100 pts",
                "Median resolution", "-2h", "no change"):
        assert row in text
    assert "deskbell gaps --since 2026-03-09 --until 2026-03-15" in unescape(html)


@pytest.mark.parametrize(("env", "missing"), [
    ({}, "smtp_host and notify_email settings"),
    ({"DESKBELL_NOTIFY_EMAIL": "owner@example.com"}, "smtp_host setting"),
    ({"DESKBELL_SMTP_HOST": "127.0.0.1"}, "notify_email setting"),
])
def test_send_without_smtp_or_an_address_is_refused_with_exit_2(
        fortnight: Path, smtp: tuple[Inbox, int],  # noqa: F811
        env: dict[str, str], missing: str) -> None:
    inbox, port = smtp
    code, out, err = run("report", "--digest", "--send", "--until", "2026-03-15",
                         "--data-dir", str(fortnight),
                         env={**env, "DESKBELL_SMTP_PORT": str(port)})
    assert (code, out) == (2, "")
    assert f"Error: --send needs the {missing}" in err
    assert inbox.messages == []


def test_a_mail_server_that_is_down_fails_the_command(fortnight: Path) -> None:
    port = free_port()
    code, out, err = run("report", "--digest", "--send", "--until", "2026-03-15",
                         "--data-dir", str(fortnight),
                         env={"DESKBELL_SMTP_HOST": "127.0.0.1", "DESKBELL_SMTP_PORT": str(port),
                              "DESKBELL_NOTIFY_EMAIL": "owner@example.com"})
    assert (code, out) == (1, "")
    assert f"digest not sent to owner@example.com via 127.0.0.1:{port}" in err


def test_active_notices_come_first_and_are_escaped(fortnight: Path) -> None:
    events, tickets = EventStore(fortnight, retention_days=3650), JSONTicketStore(fortnight)
    (first, last), (before_first, before_last) = digest_weeks(date(2026, 3, 16))
    tz = ZoneInfo("UTC")
    this_week = load_report(events, tickets, *day_range(first, last, tz), tz)
    last_week = load_report(events, tickets, *day_range(before_first, before_last, tz), tz)
    quiet = build_digest(this_week, last_week)
    assert "notices" not in digest_text(quiet).lower()
    loud = build_digest(this_week, last_week, notices=["Login <b>down</b> since 09:00", " "])
    assert digest_text(loud).splitlines()[3:6] == [
        "Active notices", "  - Login <b>down</b> since 09:00", ""]
    assert "<li>Login &lt;b&gt;down&lt;/b&gt; since 09:00</li>" in digest_html(loud)


def test_a_week_without_data_says_so_instead_of_inventing_figures(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    _, out, _ = run("report", "--digest", "--until", "2026-03-15", "--data-dir",
                    str(tmp_path / "data"))
    lines = out.splitlines()
    assert lines[3:13] == [
        "                         This week  Last week     Change",
        "  Help sessions                  0          0  no change",
        "  Self-service rate              \u2014          \u2014          \u2014",
        "  Confirmed self-served          \u2014          \u2014          \u2014",
        "  Search success                 \u2014          \u2014          \u2014",
        "  Zero-result searches           \u2014          \u2014          \u2014",
        "  Tickets created                0          0  no change",
        "  Median first response          \u2014          \u2014          \u2014",
        "  Median resolution              \u2014          \u2014          \u2014",
        "  CSAT                           \u2014          \u2014          \u2014",
    ]
    assert lines[13:16] == ["", "Content gaps to write first", "  none this week"]
    assert "Draft them" not in out


ALLOWED_TAGS = {"html", "head", "meta", "title", "body", "h1", "h2", "p", "table", "tr", "th",
                "td", "ol", "li", "code", "ul"}


class Markup(HTMLParser):
    """Every tag and attribute of a page, as a browser or mail client would parse them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_hostile_payload_stays_text_in_the_html_digest(tmp_path: Path,
                                                             payload: str) -> None:
    # Two weeks in which the only gap is a search for the payload that found nothing and led
    # to a ticket, and which a spike of failed searches for it ends.
    f = Fortnight(tmp_path)
    query = f"help {payload} please"
    for n in range(8):
        f.session(at(15, 8, n), query, 0)
    f.session(at(15, 9), query, 0, ticket=ticket("DB-HOST", at(15, 9, 5), timedelta(hours=1)))
    tz = ZoneInfo("UTC")
    (first, last), (before_first, before_last) = digest_weeks(date(2026, 3, 16))
    this_week = load_report(f.events, f.tickets, *day_range(first, last, tz), tz)
    last_week = load_report(f.events, f.tickets, *day_range(before_first, before_last, tz), tz)
    result = build_digest(this_week, last_week, notices=[payload])
    [gap] = result.gaps
    assert result.spikes and {s.topic for s in result.spikes} == {gap.query}
    page = Markup()
    page.feed(digest_html(result))
    assert page.tags <= ALLOWED_TAGS and page.attributes <= {"style", "charset"}
    text = "".join(page.text)
    assert f"{gap.query}: 9 searches found nothing, 1 tickets followed a search" in text
    assert f"{gap.query} (failed searches, last day)" in text
    assert payload.strip() in text  # the notice, word for word


def _notice(notice_id: str, text: str, now: datetime, *, hours: float, age: float,
            article: str | None = None, cleared: bool = False) -> Notice:
    created = now - timedelta(hours=age)
    return Notice(id=notice_id, text=text, until=now + timedelta(hours=hours),
                  created_at=created, article=article,
                  cleared_at=created + timedelta(minutes=1) if cleared else None)


def test_the_command_lists_the_notices_showing_now_newest_first(fortnight: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    store = JSONNoticeStore(fortnight)
    store.add(_notice("n0000001", "Checkout <b>is</b> failing", now, hours=3, age=2,
                      article="billing/refunds"))
    store.add(_notice("n0000002", "Logins are slow", now, hours=1, age=1))
    store.add(_notice("n0000003", "Cleared early", now, hours=5, age=3, cleared=True))
    store.add(_notice("n0000004", "Over already", now, hours=-1, age=4))
    code, out, err = run("report", "--digest", "--until", "2026-03-15", "--data-dir",
                         str(fortnight))
    assert (code, err) == (0, "")
    until = [f"{now + timedelta(hours=h):%Y-%m-%d %H:%M} UTC" for h in (1, 3)]
    assert out.splitlines()[3:7] == [
        "Active notices",
        f"  - Logins are slow (until {until[0]}; id n0000002)",
        f"  - Checkout <b>is</b> failing (until {until[1]}, links billing/refunds; "
        "id n0000001)",
        ""]
    assert "Cleared early" not in out and "Over already" not in out


def test_notices_that_cannot_be_read_leave_the_digest_whole_with_a_warning(
        fortnight: Path, tmp_path: Path) -> None:
    (fortnight / "notices.json").write_text("{not json")
    code, out, err = run("report", "--digest", "--until", "2026-03-15", "--data-dir",
                         str(fortnight), "--kb", str(tmp_path / "kb"))
    assert code == 0
    assert out == EXPECTED.format(kb=tmp_path / "kb", data=fortnight)
    assert err.startswith("warning: the digest lists no notices: cannot read them (notice "
                          f"file {fortnight / 'notices.json'} is corrupt")
