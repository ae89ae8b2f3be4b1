"""Articles for agents only (`audience: internal`): never in the widget, the help center, the
public API, the sitemap or the assistants' files; beside a ticket and at /admin/kb/ for agents,
to quote into a reply without a link; edits show without a reindex."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from cli.main import main
from widget_server.app import create_app
from widget_server.search import reindex

from .test_admin import PASSWORD, csrf_of, log_in

INTERNAL = """---
title: Refund exceptions for agents
summary: When we refund outside the 30 days, and who approves it.
audience: internal
tags: [refund, exception]
---
Refund outside the window only for zebracode customers. Ask Sam to approve.
"""
SECRETS = ("zebracode", "Refund exceptions for agents", "refund-exceptions", "Ask Sam")


@pytest.fixture
def site(make_settings, kb_dir: Path) -> Iterator[TestClient]:
    (kb_dir / "billing" / "refund-exceptions.md").write_text(INTERNAL, encoding="utf-8")
    settings = make_settings(admin_password=PASSWORD, public_url="https://help.example.com")
    reindex(Path(settings.kb_dir), settings.index_dir)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


PUBLIC = ["/kb/", "/kb/billing/refund-exceptions", "/kb/search?q=zebracode",
          "/kb/search?q=refund+exceptions", "/sitemap.xml", "/robots.txt", "/llms.txt",
          "/llms-full.txt", "/api/v1/search?q=zebracode", "/api/v1/search?q=refund+exceptions",
          "/api/v1/search?q=refund&limit=20", "/api/v1/suggestions?url=https://shop.example/refund",
          "/api/v1/articles/billing/refund-exceptions", "/api/v1/articles/billing/refunds",
          "/embed?site=default", "/api/v1/openapi.json", "/kb/billing/refunds"]


def test_no_public_surface_shows_an_internal_article(site: TestClient) -> None:
    answered = 0
    for path in PUBLIC:
        page = site.get(path)
        assert page.status_code in {200, 404}, (path, page.status_code)
        answered += page.status_code == 200
        text = html.unescape(page.text)
        # What the request itself names (a query, a slug) is said back: not a leak.
        for echoed in ("zebracode", "refund exceptions", "billing/refund-exceptions"):
            if echoed.replace(" ", "+") in path:
                text = text.replace(echoed, "")
        leaked = [s for s in SECRETS if s.lower() in text.lower()]
        assert not leaked, (path, leaked)
    assert answered >= 12
    assert site.get("/kb/billing/refund-exceptions").status_code == 404
    assert site.get("/api/v1/articles/billing/refund-exceptions").status_code == 404
    index = Path(site.app.state.services.settings.index_dir)  # type: ignore[attr-defined]
    stored = b"".join(p.read_bytes() for p in index.rglob("*") if p.is_file())
    assert b"zebracode" not in stored and b"refund-exceptions" not in stored


def test_an_agent_finds_reads_and_quotes_it_without_a_link(site: TestClient) -> None:
    assert site.get("/admin/kb/billing/refund-exceptions").status_code == 303  # log in first
    log_in(site)
    created = site.post("/api/v1/tickets", json={
        "name": "Ada", "email": "ada@example.com", "subject": "refund after 40 days",
        "message": "Can I still get my money back?", "elapsed_ms": 5000})
    reference = created.json()["reference"]
    page = site.get(f"/admin/tickets/{reference}", params={"kb": "refund exception"}).text
    assert re.search(r'href="/admin/kb/billing/refund-exceptions"[^>]*><bdi>Refund exceptions '
                     r'for agents</bdi></a> <span class="read-mark">internal</span>', page)
    assert 'value="link:billing/refund-exceptions"' not in page  # no link to offer
    quoted = site.post(f"/admin/tickets/{reference}/compose", data={
        "csrf": csrf_of(page), "body": "Hello,", "kb": "refund exception",
        "insert": "quote:billing/refund-exceptions"})
    assert quoted.status_code == 200
    body = html.unescape(re.search(r'<textarea id="reply-body"[^>]*>(.*?)</textarea>',
                                   quoted.text, re.DOTALL).group(1))
    assert body == ("Hello,\n\nRefund outside the window only for zebracode customers. Ask Sam "
                    "to approve.\n")
    linked = site.post(f"/admin/tickets/{reference}/compose", data={
        "csrf": csrf_of(page), "kb": "refund exception",
        "insert": "link:billing/refund-exceptions"})
    assert linked.status_code == 400
    assert "is internal: the visitor cannot open it" in html.unescape(linked.text)
    article = site.get("/admin/kb/billing/refund-exceptions")
    assert article.status_code == 200 and "Ask Sam to approve." in article.text
    assert "Internal: agents only." in article.text
    assert site.get("/admin/kb/billing/refunds").status_code == 404  # public: see /kb/


def test_an_edit_shows_to_agents_without_a_reindex(site: TestClient, kb_dir: Path) -> None:
    log_in(site)
    path = kb_dir / "billing" / "refund-exceptions.md"
    assert "Ask Sam" in site.get("/admin/kb/billing/refund-exceptions").text
    path.write_text(INTERNAL.replace("Ask Sam", "Ask Kim"), encoding="utf-8")
    assert "Ask Kim" in site.get("/admin/kb/billing/refund-exceptions").text
    path.write_text(INTERNAL.replace("audience: internal\n", ""), encoding="utf-8")
    assert site.get("/admin/kb/billing/refund-exceptions").status_code == 404  # now public


def test_check_names_a_bad_audience_and_a_public_link_to_an_internal_article(
        kb_dir: Path) -> None:
    (kb_dir / "billing" / "refund-exceptions.md").write_text(INTERNAL, encoding="utf-8")
    (kb_dir / "billing" / "wrong.md").write_text(
        "---\ntitle: Wrong\naudience: staff\n---\nText.\n", encoding="utf-8")
    refunds = kb_dir / "billing" / "refunds.md"
    refunds.write_text(refunds.read_text(encoding="utf-8") +
                       "\nSee [exceptions](/kb/billing/refund-exceptions).\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["check", "--kb", str(kb_dir)])
    assert out.exit_code == 1
    assert "audience: expected public or internal, got 'staff'" in out.output
    stale = CliRunner().invoke(main, ["check", "--stale", "--kb", str(kb_dir)])
    assert "broken link to /kb/billing/refund-exceptions (internal (agents only))" in stale.output
