"""/admin/insights: only for the admin, figures for the chosen range, hostile text stays text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from tests.test_admin import PASSWORD, log_in
from widget_server.app import create_app
from widget_server.events import EventStore
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
    assert html.count("<svg") == 4 and 'role="img"' in html
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
