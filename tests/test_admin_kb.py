"""The knowledge base at the agent's hand: beside a ticket, the articles that may answer it (the
visitors' own search, on the subject or what the agent types), marked when the visitor already
read them; "Insert link" and "Insert quote" give the reply back with it appended, storing
nothing; bad or forged inserts are refused."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.events import SEARCH
from widget_server.search import reindex

from .test_admin import PASSWORD, csrf_of, log_in

TICKET = {"name": "Ada", "email": "ada@example.com", "subject": "forgot my password",
          "message": "I cannot sign in any more.", "elapsed_ms": 5000,
          "trail": {"articles": [{"slug": "account/reset-password", "title": "Reset your password",
                                  "source": "search"}]}}


@pytest.fixture
def admin(make_settings) -> Iterator[TestClient]:
    settings = make_settings(admin_password=PASSWORD, public_url="https://help.example.com")
    reindex(Path(settings.kb_dir), settings.index_dir)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        log_in(client)
        yield client


def open_ticket(client: TestClient, body: dict[str, Any] = TICKET) -> str:
    created = client.post("/api/v1/tickets", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["reference"])


def suggested(page: str) -> list[tuple[str, bool]]:
    """(title, marked read) of each suggestion, in order."""
    block = page[page.index('class="kb-suggestions"'):]
    block = block[:block.index("</ol>")]
    return [(html.unescape(title), "the visitor read this" in rest) for title, rest in
            re.findall(r'<li><a href="/kb/[^"]+"[^>]*><bdi>([^<]*)</bdi></a>(.*?)</li>', block,
                       re.DOTALL)]


def compose(client: TestClient, reference: str, page: str, **fields: str) -> Any:
    return client.post(f"/admin/tickets/{reference}/compose",
                       data={"csrf": csrf_of(page), **fields})


def test_the_ticket_shows_articles_for_its_subject_and_which_the_visitor_read(
        admin: TestClient) -> None:
    reference = open_ticket(admin)
    page = admin.get(f"/admin/tickets/{reference}").text
    assert 'value="forgot my password"' in page  # the subject is the first search
    found = suggested(page)
    assert found[0] == ("Reset your password", True)
    assert not any(read for _, read in found[1:])
    other = admin.get(f"/admin/tickets/{reference}", params={"kb": "refund"}).text
    assert suggested(other)[0] == ("Refunds and returns", False)
    assert 'value="refund"' in other
    nothing = admin.get(f"/admin/tickets/{reference}", params={"kb": "qwxzv"}).text
    assert "No article matches “qwxzv”." in nothing


def test_insert_link_and_quote_append_to_the_reply_and_store_nothing(admin: TestClient) -> None:
    reference = open_ticket(admin)
    page = admin.get(f"/admin/tickets/{reference}").text
    draft = "Hello Ada,\r\n\r\nthis should help:"
    linked = compose(admin, reference, page, body=draft, kb="forgot my password",
                     insert="link:account/reset-password")
    assert linked.status_code == 200
    body = html.unescape(re.search(r'<textarea id="reply-body"[^>]*>(.*?)</textarea>',
                                   linked.text, re.DOTALL).group(1))
    assert body == ("Hello Ada,\r\n\r\nthis should help:\n\n"
                    "Reset your password: https://help.example.com/kb/account/reset-password\n")
    quoted = compose(admin, reference, linked.text, body=body, kb="forgot my password",
                     insert="quote:account/reset-password")
    text = html.unescape(re.search(r'<textarea id="reply-body"[^>]*>(.*?)</textarea>',
                                   quoted.text, re.DOTALL).group(1))
    assert text.startswith(body.rstrip() + "\n\n> ")
    assert re.search(r"^> .*(reset link|Forgot password)", text, re.MULTILINE | re.IGNORECASE)
    assert text.endswith("(Reset your password: "
                         "https://help.example.com/kb/account/reset-password)\n")
    ticket = admin.app.state.services.tickets.get(reference)  # type: ignore[attr-defined]
    assert len(ticket["thread"]) == 1 and ticket["status"] == "new"  # nothing was sent
    sent = admin.post(f"/admin/tickets/{reference}/reply",
                      data={"csrf": csrf_of(quoted.text), "body": text, "status": "pending"})
    assert sent.status_code == 303
    thread = admin.app.state.services.tickets.get(reference)["thread"]  # type: ignore[attr-defined]
    assert thread[-1]["body"] == text.rstrip()


@pytest.mark.parametrize(("fields", "status", "message"), [
    ({"insert": "steal:account/reset-password"}, 400, "insert must be link:<slug> or quote:<slug>"),
    ({"insert": "link:"}, 400, "insert must be link:<slug> or quote:<slug>"),
    ({"insert": "link:billing/upcoming-plan"}, 400, "No suggested article 'billing/upcoming-plan'"),
    ({"insert": "link:account/reset-password", "body": "x" * 9990}, 400,
     "The reply would be longer than 10000 characters with it"),
])
def test_a_bad_insert_is_refused_with_its_reason(admin: TestClient, fields: dict[str, str],
                                                 status: int, message: str) -> None:
    reference = open_ticket(admin)
    page = admin.get(f"/admin/tickets/{reference}").text
    answer = compose(admin, reference, page, kb="forgot my password", **fields)
    assert answer.status_code == status
    assert message in html.unescape(answer.text)


def test_forged_or_anonymous_compose_is_refused(admin: TestClient, make_settings) -> None:
    reference = open_ticket(admin)
    forged = admin.post(f"/admin/tickets/{reference}/compose",
                        data={"csrf": "nope", "insert": "link:account/reset-password"})
    assert forged.status_code == 403
    page = admin.get(f"/admin/tickets/{reference}").text
    missing = compose(admin, "DB-NOPE-NOPE-NOPE", page, insert="link:account/reset-password")
    assert missing.status_code == 404


def test_agent_searches_are_not_counted_as_visitor_searches(admin: TestClient) -> None:
    reference = open_ticket(admin)
    admin.get(f"/admin/tickets/{reference}", params={"kb": "refund"})
    services = admin.app.state.services  # type: ignore[attr-defined]
    services.searches.flush(everything=True)
    assert [e for e in services.events.iter_events() if e["type"] == SEARCH] == []


def test_hostile_article_text_stays_text_beside_the_ticket(admin: TestClient) -> None:
    reference = open_ticket(admin)
    page = admin.get(f"/admin/tickets/{reference}", params={"kb": "hostile"}).text
    block = page[page.index('id="kb-h"'):page.index('id="trail-h"')]
    tags = re.findall(r"<(\w+)([^>]*)>", block)
    assert not [name for name, _ in tags if name.lower() in {"script", "img", "iframe", "svg"}]
    assert not [attrs for _, attrs in tags if re.search(r"\son\w+\s*=", attrs)]
    assert ('Hostile &lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; article' in block)
    assert "Summary with &lt;img src=x onerror=alert(1)&gt; markup" in block
