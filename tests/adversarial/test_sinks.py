"""Hostile text pushed through every input stays text at every output: help-center pages,
search snippets, the admin inbox, ticket and insights pages, and notification emails."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from cli.main import main
from widget_server.app import create_app
from widget_server.search import reindex

from ..test_mail import body_of, smtp  # noqa: F401  (a real SMTP server on loopback)
from .conftest import GOOD_TICKET, OPEN_LIMITS, PASSWORD, log_in

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    '"><iframe src="javascript:alert(1)">',
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href=\"java\nscript:alert(1)\">x</a>",
    "<a href='&#106;avascript:alert(1)'>x</a>",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "{{7*7}}",
    "{% raw %}{{7*7}}{% endraw %}${7*7}",
    "<style>@import url(//evil.example/x.css)</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<base href=//evil.example/>",
    "<form action=//evil.example><button formaction=javascript:alert(1)>go</button></form>",
    "<meta http-equiv=refresh content=0;url=//evil.example>",
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BAD_TAGS = {"script", "iframe", "svg", "math", "style", "object", "embed", "base", "meta",
            "noscript", "mglyph", "button"}
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "background", "poster"}


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def injected(html: str, baseline: str) -> list[str]:
    """Elements, attributes and URL schemes in `html` that no page of ours ever carries."""
    problems = []
    known = {tag for tag, _ in parse(baseline)}
    for tag, attrs in parse(html):
        ours = tag == "script" and (attrs.get("src", "").startswith("/")
                                    or attrs == {"type": "application/ld+json"})  # JSON-LD
        if tag in BAD_TAGS and not ours and tag not in known:
            problems.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.startswith("on") or name == "style":
                problems.append(f"{tag}[{name}]")
            squashed = re.sub(r"[\s\x00-\x1f]", "", value).lower()
            if name in URL_ATTRS and squashed.startswith(("javascript:", "data:", "vbscript:")):
                problems.append(f"{tag}[{name}={value[:30]}]")
            if name in URL_ATTRS and squashed.startswith("//"):
                problems.append(f"{tag}[{name}={value[:30]}]")
    return problems


def parse(html: str) -> list[tuple[str, dict[str, str]]]:
    page = Page()
    page.feed(html)
    return page.tags


def assert_clean(html: str, baseline: str, where: str) -> None:
    assert injected(html, baseline) == [], where


@pytest.fixture
def hostile_kb(kb_dir: Path) -> Path:
    body = "\n\n".join(PAYLOADS)
    (kb_dir / "sink.md").write_text(
        f"---\ntitle: 'Sink {PAYLOADS[1]}'\nsummary: '{PAYLOADS[0]}'\ncategory: 'C {PAYLOADS[2]}'\n"
        f"tags: [sinkword]\n---\n\nsinkword\n\n{body}\n\n[link](javascript:alert(1))\n",
        "utf-8")
    return kb_dir


@pytest.fixture
def site(make_settings, hostile_kb: Path, smtp) -> TestClient:  # noqa: F811
    s = make_settings(admin_password=PASSWORD, smtp_host="127.0.0.1", smtp_port=smtp[1],
                      notify_email="owner@example.com", **OPEN_LIMITS)
    reindex(Path(s.kb_dir), s.index_dir)
    with TestClient(create_app(s), follow_redirects=False) as client:
        yield client


def hostile_ticket(text: str) -> dict[str, Any]:
    payload = text.replace("\n", " ")  # single-line fields refuse line breaks (tested apart)
    trail = {"searches": [{"q": payload, "results": 0}],
             "articles": [{"slug": payload, "title": payload, "source": "search"}],
             "votes": [{"slug": payload, "helpful": False}],
             "page_url": "https://shop.example/" + payload}
    return {**GOOD_TICKET, "name": payload, "subject": payload, "message": text + "\nend",
            "trail": trail}


def test_payloads_stay_text_at_every_sink(site: TestClient, smtp) -> None:  # noqa: F811
    inbox, _ = smtp
    baseline = {p: site.get(p).text for p in ["/kb/", "/kb/search?q=password"]}
    csrf = log_in(site)
    baseline["insights"] = site.get("/admin/insights").text  # its charts are inline SVG
    session = "s_" + "a" * 22
    references = []
    for payload in PAYLOADS:
        created = site.post("/api/v1/tickets", json=hostile_ticket(payload))
        assert created.status_code == 201, created.text
        references.append(created.json())
        voted = site.post("/api/v1/articles/account/reset-password/feedback",
                          json={"helpful": False, "comment": payload, "session": session})
        assert voted.status_code == 202, voted.text
        sent = site.get("/api/v1/search", params={"q": payload + " zz", "session": session})
        assert sent.status_code == 200, sent.text
        for q in [payload, "sinkword"]:
            page = site.get("/kb/search", params={"q": q}).text
            assert_clean(page, baseline["/kb/search?q=password"], f"/kb/search?q={q}")
        api = site.get("/api/v1/search", params={"q": payload + " sinkword"}).json()
        snippets = [hit["snippet"] for hit in api["results"] if hit["slug"] == "sink"]
        assert snippets, f"the sink article is not found for {payload!r}"
        for snippet in snippets:
            assert_clean(snippet, "", f"snippet for {payload!r}")
            assert not re.search(r"<(?!/?mark>)", snippet), snippet  # <mark> is the only tag
    article = site.get("/kb/sink").text
    assert_clean(article, baseline["/kb/"], "/kb/sink")
    assert "{{7*7}}" in article  # a template expression in content is never evaluated
    assert_clean(site.get("/api/v1/articles/sink").json()["html"], "", "/api/v1/articles/sink")
    assert_clean(site.get("/kb/").text, baseline["/kb/"], "/kb/")

    admin_baseline = site.get("/admin/").text
    for created, payload in zip(references, PAYLOADS, strict=True):
        ref = created["reference"]
        for action in ("reply", "note"):
            done = site.post(f"/admin/tickets/{ref}/{action}", data={"csrf": csrf, "body": payload})
            assert done.status_code == 303, (action, done.text)
        page = site.get(f"/admin/tickets/{ref}").text
        assert_clean(page, admin_baseline, f"/admin/tickets/{ref}")
        assert "{{7*7}}" not in payload or "{{7*7}}" in page
        visitor = site.get(f"/api/v1/tickets/{ref}",
                           headers={"authorization": "Bearer " + created["token"]})
        assert visitor.json()["thread"][-1]["body"] == payload  # stored as given, shown as text
    assert_clean(site.get("/admin/").text, admin_baseline, "/admin/")
    assert_clean(site.get("/admin/?q=<script>").text, admin_baseline, "/admin/?q=")
    site.app.state.services.searches.flush(everything=True)  # type: ignore[attr-defined]
    insights = site.get("/admin/insights").text
    assert_clean(insights, baseline["insights"], "/admin/insights")
    assert "zz" in insights  # the hostile searches are listed, as text
    assert len(inbox.messages) >= len(PAYLOADS)
    for _, message in inbox.messages:
        assert message.get_content_type() == "text/plain"
        for header in ("Subject", "To", "From", "Reply-To"):
            assert "\n" not in str(message.get(header, ""))
    check_exports(site)


def check_exports(site: TestClient) -> None:
    """CSV cells never start a spreadsheet formula; JSON keeps the text exactly as sent."""
    data_dir = str(site.app.state.services.settings.data_dir)  # type: ignore[attr-defined]
    for kind in ("tickets", "events"):
        out = CliRunner().invoke(main, ["export", kind, "--format", "csv",
                                        "--data-dir", data_dir], catch_exceptions=False)
        assert out.exit_code == 0, out.output
        rows = list(csv.reader(io.StringIO(out.stdout, newline="")))
        assert len(rows) > len(PAYLOADS)
        assert not [cell for row in rows[1:] for cell in row if cell.startswith(FORMULA_STARTS)]
    dumped = CliRunner().invoke(main, ["export", "tickets", "--format", "json",
                                       "--data-dir", data_dir], catch_exceptions=False)
    subjects = {t["subject"] for t in json.loads(dumped.stdout)}
    assert {p.replace("\n", " ") for p in PAYLOADS} <= subjects
