"""An agent answers with the knowledge base at hand, in real Chromium: the articles beside the
ticket, "Insert link" into a reply already begun, then "Send reply"; no script, no CSP error."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import FIXTURE_KB, admin_logged_in
from tests.conftest import served
from widget_server.app import create_app
from widget_server.search import reindex
from widget_server.settings import load_settings

pytestmark = pytest.mark.browser
PASSWORD = "agent reply password"


@pytest.fixture(scope="module")
def helpdesk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    base = tmp_path_factory.mktemp("agent")
    shutil.copytree(FIXTURE_KB, base / "kb")
    settings = load_settings(overrides={
        "kb_dir": str(base / "kb"), "data_dir": str(base / "data"), "admin_password": PASSWORD,
        "public_url": "https://help.example.com"}, config_file=None, environ={})
    reindex(Path(settings.kb_dir), settings.index_dir)
    app = create_app(settings)
    with served(app) as url:
        yield url, app


def test_an_agent_inserts_a_link_to_the_article_and_sends_it(browser: Any,
                                                             helpdesk: tuple[str, Any]) -> None:
    url, app = helpdesk
    body = json.dumps({"name": "Ada", "email": "ada@example.com", "subject": "forgot my password",
                       "message": "I cannot sign in.", "elapsed_ms": 5000}).encode()
    request = urllib.request.Request(f"{url}/api/v1/tickets", body,
                                     {"content-type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        reference = json.load(answer)["reference"]
    context, page, console = admin_logged_in(browser, f"{url}/admin/tickets/{reference}",
                                             PASSWORD)
    side = page.get_by_role("complementary", name="Articles that may answer")
    expect(side.get_by_role("link").first).to_have_text("Reset your password")
    reply = page.get_by_label("Reply to the visitor")
    reply.fill("Hello Ada, this should help:")
    side.get_by_role("button", name="Insert a link to Reset your password into the reply").click()
    expect(reply).to_have_value("Hello Ada, this should help:\n\nReset your password: "
                                "https://help.example.com/kb/account/reset-password\n")
    expect(reply).to_be_focused()
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_url(f"**/admin/tickets/{reference}")
    thread = app.state.services.tickets.get(reference)["thread"]
    assert thread[-1]["author"] == "agent"
    assert "https://help.example.com/kb/account/reset-password" in thread[-1]["body"]
    assert not [m for m in console if "Content Security Policy" in m]
    context.close()
