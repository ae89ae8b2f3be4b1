"""Two agents on one ticket, in real Chromium: each sees the other is there, and a reply sent
on a view the other already answered is held back with the draft kept; sent again, it goes."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import FIXTURE_KB
from tests.conftest import served
from widget_server.app import create_app
from widget_server.search import reindex
from widget_server.settings import load_settings
from widget_server.team import AGENT, Actor

pytestmark = pytest.mark.browser
PASSWORDS = {"ana": "ana-password-123", "bo": "bo-password-1234"}


@pytest.fixture(scope="module")
def helpdesk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    base = tmp_path_factory.mktemp("collision")
    shutil.copytree(FIXTURE_KB, base / "kb")
    settings = load_settings(overrides={"kb_dir": str(base / "kb"),
                                        "data_dir": str(base / "data")},
                             config_file=None, environ={})
    reindex(Path(settings.kb_dir), settings.index_dir)
    app = create_app(settings)
    with served(app) as url:
        team = app.state.services.team
        team.add_agent("ana", "Ana", "owner", PASSWORDS["ana"], Actor.cli())
        team.add_agent("bo", "Bo", AGENT, PASSWORDS["bo"], Actor.cli())
        yield url, app


def signed_in(browser: Any, url: str, name: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(url)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url)
    return context, page, console


def open_ticket(url: str) -> str:
    body = json.dumps({"name": "Ada", "email": "ada@example.com", "subject": "Printer jams",
                       "message": "It jams every time.", "elapsed_ms": 5000}).encode()
    request = urllib.request.Request(f"{url}/api/v1/tickets", body,
                                     {"content-type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        reference: str = json.load(answer)["reference"]
    return reference


def test_two_agents_see_each_other_and_a_stale_reply_is_held_back(
        browser: Any, helpdesk: tuple[str, Any]) -> None:
    url, app = helpdesk
    reference = open_ticket(url)
    ticket_url = f"{url}/admin/tickets/{reference}"
    ana_context, ana, ana_console = signed_in(browser, ticket_url, "ana")
    bo_context, bo, bo_console = signed_in(browser, ticket_url, "bo")
    # Bo's page was drawn after Ana's: it says so at once; Ana's learns it by polling.
    expect(bo.get_by_role("status")).to_have_text("Ana is also viewing this ticket")
    ana.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # poll now
    expect(ana.get_by_role("status")).to_have_text("Bo is also viewing this ticket")

    ana.get_by_label("Reply to the visitor").fill("Hello Ada, please clean the rollers.")
    bo.get_by_label("Reply to the visitor").fill("Hi Ada, a new cartridge fixes this.")
    bo.get_by_role("button", name="Send reply").click()
    bo.wait_for_url(ticket_url)
    ana.get_by_role("button", name="Send reply").click()

    expect(ana.get_by_role("alert")).to_contain_text(
        "New activity since you opened this ticket — read it, then send again")
    expect(ana.get_by_text("Hi Ada, a new cartridge fixes this.")).to_be_visible()
    expect(ana.get_by_label("Reply to the visitor")).to_have_value(
        "Hello Ada, please clean the rollers.")
    thread = app.state.services.tickets.get(reference)["thread"]
    assert [e["body"] for e in thread if e["author"] == "agent"] == [
        "Hi Ada, a new cartridge fixes this."]

    ana.get_by_role("button", name="Send reply").click()  # now fresh: it goes
    ana.wait_for_url(ticket_url)
    expect(ana.get_by_role("alert")).to_have_count(0)
    thread = app.state.services.tickets.get(reference)["thread"]
    assert [(e["agent_name"], e["body"]) for e in thread if e["author"] == "agent"] == [
        ("Bo", "Hi Ada, a new cartridge fixes this."),
        ("Ana", "Hello Ada, please clean the rollers.")]
    for console in (ana_console, bo_console):
        assert not [m for m in console if "Content Security Policy" in m], console
    ana_context.close()
    bo_context.close()
