"""/admin/insights: only for the admin, figures for the chosen range, hostile text stays text."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.test_admin import PASSWORD, log_in
from widget_server.app import create_app
from widget_server.events import EventStore, NewEvent
from widget_server.insights.freshness import HelpfulDrop
from widget_server.routes.insights import fresh_line, freshness
from widget_server.tickets import JSONTicketStore

HOSTILE_QUERY = '"><script>alert(1)</script>'
S1, S2 = "s_" + "a" * 22, "s_" + "b" * 22


@pytest.fixture
def admin(make_settings) -> Iterator[TestClient]:
    settings = make_settings(admin_password=PASSWORD, events_retention_days=3650)
    app = create_app(settings)
    store: EventStore = app.state.services.events
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    store.append(S1, "search", {"query": HOSTILE_QUERY, "results": 0, "locale": "en"}, at=at)
    store.append(S1, "vote", {"slug": "refund-policy", "helpful": False,
                              "reason": "<img src=x onerror=alert(2)>"}, at=at)
    store.append(S1, "ticket_created", {"reference": "DB-AAAA-BBBB-CCCC", "category": "billing"},
                 at=at)
    store.append(S2, "search", {"query": "shipping", "results": 2}, at=at)
    store.append(S2, "article_view", {"slug": "shipping", "source": "search"}, at=at)
    JSONTicketStore(settings.data_dir).add({
        "reference": "DB-AAAA-BBBB-CCCC", "subject": "Refund?", "category": "billing",
        "created_at": at.isoformat(), "first_reply_at": None, "solved_at": None,
        "ratings": [], "status": "new", "thread": []})
    with TestClient(app, follow_redirects=False) as client:
        yield client


def _outcomes(html: str) -> dict[str, tuple[str, str]]:
    section = html[html.index('id="funnel-h"'):]
    section = section[:section.index("</section>")]
    return {name: (n, rate) for name, n, rate in re.findall(
        r'<tr><th scope="row">([^<]+)</th><td class="num">(\d+)</td><td class="num">([^<]+)</td>',
        section)}


def test_the_funnel_says_what_became_of_each_session(admin):
    """S1 opened a ticket, S2 read an article and left (assumed); add one quoted an answer
    and closed the panel (confirmed), and one from the last hours of the range (too recent)."""
    events: EventStore = admin.app.state.services.events
    at = datetime(2026, 3, 2, 10, tzinfo=UTC)
    answered = {"query": "refund time", "results": 2, "confidence": 0.9,
                "answer": "refund-policy", "locale": "en"}
    events.append("s_" + "c" * 22, "search", answered, at=at)
    events.append("s_" + "c" * 22, "widget_close", {}, at=at + timedelta(seconds=40))
    events.append("s_" + "d" * 22, "search", answered, at=datetime(2026, 3, 3, 23, tzinfo=UTC))
    log_in(admin)
    html = admin.get("/admin/insights?since=2026-03-01&until=2026-03-03").text
    assert "What became of the 4 help sessions that searched or read" in html
    assert "rates are over the\n3 decided sessions" in html
    assert _outcomes(html) == {"Confirmed self-service": ("1", "33.3%"),
                               "Assumed self-service": ("1", "33.3%"),
                               "Escalated": ("1", "33.3%"),
                               "Too recent to tell": ("1", "—")}
    steps = re.findall(r"<title>([^<:]+): (\d+)</title>", html[html.index('id="funnel-h"'):])
    assert steps[:5] == [("Searched or read", "4"), ("Searched", "4"),
                         ("Read an article or an answer", "3"), ("Voted", "1"),
                         ("Opened a ticket within 24 h", "1")]
    assert "deskbell export events --since 2026-03-01 --until 2026-03-03" in html


def test_anonymous_visitors_are_sent_to_the_login(admin):
    response = admin.get("/admin/insights?since=2026-03-01&until=2026-03-03")
    assert response.status_code == 303 and response.headers["location"].startswith(
        "/admin/login?next=")


def test_the_page_shows_the_range_figures_charts_and_links(admin):
    log_in(admin)
    page = admin.get("/admin/insights?since=2026-03-01&until=2026-03-03")
    assert page.status_code == 200
    html = page.text
    assert "2026-03-01 to 2026-03-03 (UTC)" in html
    assert re.search(r"<dt>Help sessions</dt><dd>2</dd>", html)
    assert re.search(r"<dt>Self-service rate</dt><dd>50.0%</dd>", html)
    assert re.search(r"<dt>Tickets</dt><dd>1</dd>", html)
    assert html.count("<svg") == 5 and 'role="img"' in html
    assert 'href="/admin/tickets/DB-AAAA-BBBB-CCCC"' in html
    assert 'href="/kb/refund-policy"' in html
    assert "rewrite this article" in html and "write an article" in html


def test_hostile_queries_and_reasons_are_escaped_everywhere(admin):
    log_in(admin)
    html = admin.get("/admin/insights?since=2026-03-01&until=2026-03-03").text
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # table cell and SVG label
    assert " style=" not in html and "<script" not in html  # strict CSP: no inline anything


@pytest.mark.parametrize("query", ["since=yesterday", "tz=Mars/Olympus",
                                   "since=2026-03-05&until=2026-03-01",
                                   "since=2020-01-01&until=2026-03-01"])
def test_a_bad_range_is_a_clear_400(admin, query):
    log_in(admin)
    response = admin.get(f"/admin/insights?{query}")
    assert response.status_code == 400


def test_an_empty_range_renders_without_data(admin):
    log_in(admin)
    page = admin.get("/admin/insights?since=2025-01-01&until=2025-01-07&tz=Europe/Paris")
    assert page.status_code == 200
    assert "No tickets in this range." in page.text and "Every search found something." in page.text


# --- Keep the knowledge base fresh -------------------------------------------------------------

HOSTILE_OWNER = "<script>alert(3)</script> Ops"


def _fresh_kb(kb: Path, today: date) -> None:
    (kb / "care").mkdir()
    (kb / "care" / "overdue.md").write_text(
        f"---\ntitle: Overdue <b>guide</b>\nowner: \"{HOSTILE_OWNER}\"\n"
        f"review_by: {today - timedelta(days=10)}\n---\nSee [this](/kb/\"<svg/onload=alert(4)>).\n")
    (kb / "care" / "voted.md").write_text(
        "---\ntitle: Voted article\nowner: ana@example.com\n---\nStill true, we think.\n")
    (kb / "care" / "fine.md").write_text(
        f"---\ntitle: Fine article\nowner: bo\nreview_by: {today + timedelta(days=30)}\n---\n"
        "Up to date.\n")


def _votes(store: EventStore, now: datetime) -> None:
    """care/voted: 5 of 6 helpful 31 to 59 days ago, 1 of 6 in the last 30 days."""
    for n in range(6):
        session = f"s_{n:022d}"
        store.append(session, "vote", {"slug": "care/voted", "helpful": n < 5},
                     at=now - timedelta(days=40, hours=n))
        store.append(session, "vote", {"slug": "care/voted", "helpful": n < 1},
                     at=now - timedelta(days=3, hours=n))


@pytest.fixture
def fresh(make_settings, kb_dir: Path) -> Iterator[tuple[TestClient, Path]]:
    settings = make_settings(admin_password=PASSWORD, events_retention_days=3650)
    now = datetime.now(UTC)
    _fresh_kb(kb_dir, now.date())
    app = create_app(settings)
    _votes(app.state.services.events, now)
    with TestClient(app, follow_redirects=False) as client:
        log_in(client)
        yield client, settings.data_dir


def _section(html: str) -> str:
    start = html.index('<h2 id="fresh-h">')
    return html[start:html.index("</section>", start)]


def test_articles_past_review_or_voted_less_helpful_are_listed_with_their_owner(fresh):
    client, _ = fresh
    page = client.get("/admin/insights")
    assert page.status_code == 200
    section = _section(page.text)
    assert "Keep the knowledge base fresh" in section
    overdue = re.search(r'<tr><td><a href="/kb/care/overdue"><bdi>Overdue &lt;b&gt;guide&lt;/b&gt;'
                        r'</bdi></a>.*?</tr>', section, re.S)
    assert overdue is not None
    row = overdue.group(0)
    assert "<bdi>&lt;script&gt;alert(3)&lt;/script&gt; Ops</bdi>" in row
    due = datetime.now(UTC).date() - timedelta(days=10)
    assert f"<li>Review was due {due}</li>" in row
    assert "<li>Broken link to /kb/&#34;&lt;svg/onload=alert(4 (no such article) (line 6)</li>" \
        in row
    voted = re.search(r'<tr><td><a href="/kb/care/voted">.*?</tr>', section, re.S)
    assert voted is not None
    assert "<bdi>ana@example.com</bdi>" in voted.group(0)
    assert ("<li>Found helpful by 17% of 6 votes in the last 30 days, down from 83% of 6 in the "
            "30 days before</li>") in voted.group(0)
    assert "care/fine" not in section
    assert "<script>alert(3)" not in page.text and "<svg/onload" not in page.text


def test_an_event_store_that_cannot_be_read_leaves_reviews_and_a_note(fresh):
    client, data_dir = fresh
    today = datetime.now(UTC).date()
    (data_dir / "events" / f"{today}.jsonl").mkdir()  # a day file the store cannot open
    page = client.get("/admin/insights?since=2026-03-01&until=2026-03-03")
    assert page.status_code == 200
    section = _section(page.text)
    assert "The votes could not be read right now, so articles voted less helpful are not " \
           "listed; reviews and links are." in section
    assert 'href="/kb/care/overdue"' in section and "care/voted" not in section


def test_a_knowledge_base_that_cannot_be_read_leaves_the_page_working(fresh, kb_dir: Path):
    client, _ = fresh
    shutil.rmtree(kb_dir)
    page = client.get("/admin/insights?since=2026-03-01&until=2026-03-03")
    assert page.status_code == 200
    assert "The knowledge base could not be read, so this list is missing." in _section(page.text)
    assert "<dt>Help sessions</dt>" in page.text


def test_postgresql_lists_the_same_fallen_ratios_from_its_vote_counts(
        kb_dir: Path, tmp_path: Path, postgres_url: str) -> None:
    """PostgreSQL answers with each window's vote counts (report_facts, in SQL), the JSON
    store with its vote events: the same rows, at the windows' edges and through aliases."""
    from widget_server.events.postgres import PostgresEventStore
    from widget_server.tickets import pg_schema

    with pg_schema.connect(postgres_url) as conn:
        pg_schema.upgrade(conn)
    now = datetime(2026, 11, 30, 8, 0, 0, 500, tzinfo=UTC)
    _fresh_kb(kb_dir, now.date())
    middle, first = now - timedelta(days=30), now - timedelta(days=60)
    votes = [("care/voted", True, first), ("care/voted", False, now),  # edges: in, out
             ("old/forgot-password", True, first + timedelta(hours=1)),  # an alias
             ("account/reset-password", False, middle), ("nowhere", False, middle)]
    for n in range(5):
        votes += [("care/voted", n < 4, first + timedelta(days=n)),
                  ("care/voted", n < 1, middle + timedelta(days=n)),
                  ("account/reset-password", True, first + timedelta(days=1, minutes=n)),
                  ("old/forgot-password", n < 2, middle - timedelta(microseconds=n + 1)),
                  ("account/reset-password", n < 2, now - timedelta(minutes=n + 1))]
    batch = [NewEvent(f"s_{n:022d}", "vote", {"slug": slug, "helpful": helpful}, at)
             for n, (slug, helpful, at) in enumerate(votes)]
    files = EventStore(tmp_path / "data", retention_days=None)
    files.append_many(batch)
    database = PostgresEventStore(postgres_url, retention_days=None)
    try:
        database.append_many(batch)
        seen = [freshness(kb_dir, store, now, now.date()) for store in (files, database)]
    finally:
        database.close()
    assert seen[0] == seen[1] and seen[0].note == ""
    drops = {a.slug: [fresh_line(r) for r in a.rows if isinstance(r, HelpfulDrop)]
             for a in seen[0].articles}
    assert drops["care/voted"] == ["Found helpful by 20% of 5 votes in the last 30 days, down "
                                   "from 83% of 6 in the 30 days before"]
    assert drops["account/reset-password"] == [
        "Found helpful by 33% of 6 votes in the last 30 days, down from 73% of 11 in the 30 "
        "days before"]


def test_an_events_day_that_cannot_be_read_is_a_503_that_names_it(admin):
    log_in(admin)
    data_dir = Path(admin.app.state.services.settings.data_dir)
    broken = data_dir / "events" / "2026-03-03.jsonl"
    broken.mkdir()
    page = admin.get("/admin/insights?since=2026-03-01&until=2026-03-03")
    assert page.status_code == 503
    assert f"Events cannot be read: {broken} (Is a directory); nothing was changed" in page.text
    broken.rmdir()
    assert admin.get("/admin/insights?since=2026-03-01&until=2026-03-03").status_code == 200
