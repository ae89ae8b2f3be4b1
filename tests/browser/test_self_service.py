"""A visitor helps themselves: suggestions for the page, search with a typo, read, vote."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import HostSite, LiveServer, launcher, open_widget, panel, search_finished

pytestmark = pytest.mark.browser



def events_since(page: Any, store: Any, before: int, count: int, skip: tuple[str, ...] | set[str] = (),
                 only: str | None = None, session: str | None = None) -> list[dict[str, Any]]:
    """The events recorded after the first `before` (of `session` when given), once `count`
    of the wanted type have landed (the panel sends them fire-and-forget) or after about ten
    seconds."""
    def wanted() -> list[dict[str, Any]]:
        return [e for e in list(store.iter_events())[before:]
                if e["type"] not in skip and (only is None or e["type"] == only)
                and (session is None or e["session"] == session)]

    for _ in range(100):
        if len(found := wanted()) >= count:
            return found
        page.wait_for_timeout(100)
    return wanted()

def test_visitor_finds_and_rates_an_answer(page: Any, shop: HostSite) -> None:
    url = shop.add("/account/login", "<h1>Sign in</h1>" + shop.snippet())
    frame = open_widget(page, url)

    # The page is a login page, so the password article is suggested before any typing.
    expect(frame.locator("#list-h")).to_have_text("Suggested for this page")
    expect(frame.get_by_role("option").first).to_contain_text("Reset your password")

    frame.locator("#q").press_sequentially("pasword reset", delay=20)
    search_finished(frame)
    expect(frame.locator("#count")).to_contain_text("found")
    first = frame.get_by_role("option").first
    expect(first).to_contain_text("Reset your password")
    expect(first.locator("mark").first).to_be_visible()

    first.click()
    expect(frame.get_by_role("heading", name="Reset your password")).to_be_focused()
    expect(frame.locator("#v-page .article")).to_contain_text("Forgot password")
    full = frame.get_by_role("link", name="Open the full article")
    expect(full).to_have_attribute("target", "_blank")
    expect(full).to_have_attribute("rel", "noopener")

    frame.get_by_role("button", name="Yes").click()
    expect(frame.get_by_role("status").filter(has_text="Thanks")).to_be_visible()

    frame.get_by_role("button", name="Back").click()
    expect(frame.locator("#q")).to_have_value("pasword reset")
    expect(launcher(page)).to_have_attribute("aria-expanded", "true")
    assert page.console_log.csp_violations() == []
    assert panel(page).locator("body").is_visible()


def test_help_session_is_recorded_as_events_not_keystrokes(
    page: Any, shop: HostSite, live_server: LiveServer
) -> None:
    store = live_server.app.state.services.events
    before = sum(1 for _ in store.iter_events())
    frame = open_widget(page, shop.add("/pricing", shop.snippet()))
    # Slowly enough that the panel runs a full search after each letter, then on quickly; the
    # visitor may click "ship"'s result before the searches of "shipping costs" land (the
    # recorder takes either order: tests/test_search_recorder.py plays the race exactly).
    frame.locator("#q").press_sequentially("ship", delay=700)
    frame.locator("#q").press_sequentially("ping costs", delay=30)
    expect(frame.locator("#count")).to_have_text("1 article found")
    frame.get_by_role("option").first.click()
    expect(frame.get_by_role("button", name="Yes")).to_be_visible()
    frame.get_by_role("button", name="No").click()
    frame.get_by_role("group", name="What went wrong?").get_by_role("button", name="Outdated").click()
    frame.locator(".vote").get_by_role("button", name="Contact us").click()
    expect(frame.get_by_label("Name")).to_be_focused()

    expected = ["widget_open", "search", "article_view", "contact_open"]
    # The server writes the search once the article read settles it, so after the read; the
    # session keeps out the searches of earlier tests, written as they settle.
    session = events_since(page, store, before, 1, only="widget_open")[0]["session"]
    assert session.startswith("s_")
    mine = {"skip": {"vote"}, "session": session}
    events = sorted(events_since(page, store, before, len(expected), **mine),
                    key=lambda e: e["at"])
    assert [e["type"] for e in events] == expected  # one search, not one per keystroke
    assert events[1]["data"]["query"] == "shipping costs"
    assert events[1]["data"]["results"] == 1  # counted by the server, not said by the panel
    assert events[1]["data"]["answer"] == "billing/shipping-costs"
    assert events[2]["data"] == {"slug": "billing/shipping-costs", "source": "search"}


def test_a_link_to_a_nested_article_opens_it_in_the_panel(
    page: Any, shop: HostSite, live_server: LiveServer
) -> None:
    store = live_server.app.state.services.events
    before = sum(1 for _ in store.iter_events())
    frame = open_widget(page, shop.add("/help", shop.snippet()))
    frame.locator("#q").press_sequentially("reset password", delay=20)
    search_finished(frame)
    frame.get_by_role("option").filter(has_text="Reset your password").first.click()
    expect(frame.get_by_role("heading", name="Reset your password")).to_be_focused()

    tabs = len(page.context.pages)
    frame.locator("#v-page .article").get_by_role("link", name="two-factor authentication").click()
    expect(frame.get_by_role("heading", name="Turn on two-factor authentication")).to_be_focused()
    assert len(page.context.pages) == tabs  # read in place, not in a new tab
    assert page.url == shop.origin + "/help"

    views = [e["data"] for e in events_since(page, store, before, 2, only="article_view")]
    assert views[-1] == {"slug": "account/two-factor", "source": "link"}


def test_the_list_is_busy_until_the_full_search_lands(page: Any, shop: HostSite) -> None:
    held: list[Any] = []

    def hold_full_searches(route: Any) -> None:
        if "instant=1" in route.request.url:
            route.continue_()
        else:
            held.append(route)

    page.route("**/api/v1/search?**", hold_full_searches)
    frame = open_widget(page, shop.add("/pricing", shop.snippet()))
    frame.locator("#q").fill("shipping")
    for _ in range(200):  # the full search starts 450 ms after the last keystroke
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the full search never started"
    results = frame.locator("#results")
    expect(results).to_have_attribute("aria-busy", "true")  # the list is about to change
    expect(frame.locator("#answer")).to_be_hidden()
    for route in held:
        route.continue_()
    expect(frame.locator("#answer")).to_contain_text("Shipping costs")
    expect(results).not_to_have_attribute("aria-busy", "true")
    expect(frame.locator("#count")).to_have_text("1 article found")


def _read_an_article(page: Any, shop: HostSite) -> Any:
    frame = open_widget(page, shop.add("/pricing", shop.snippet()))
    frame.locator("#q").press_sequentially("shipping costs", delay=30)
    expect(frame.locator("#count")).to_have_text("1 article found")
    frame.get_by_role("option").first.click()
    expect(frame.get_by_role("button", name="Yes")).to_be_visible()
    return frame


def _said_no(page: Any, shop: HostSite, live_server: LiveServer) -> tuple[Any, Any, int]:
    """An article read and voted "No": (the panel, the event store, events stored before)."""
    store = live_server.app.state.services.events
    before = sum(1 for _ in store.iter_events())
    frame = _read_an_article(page, shop)
    frame.get_by_role("button", name="No").click()
    return frame, store, before


def test_a_no_vote_asks_why_and_sends_the_reason_with_the_vote(
    page: Any, shop: HostSite, live_server: LiveServer
) -> None:
    frame, store, before = _said_no(page, shop, live_server)
    reasons = frame.get_by_role("group", name="What went wrong?")
    expect(reasons.get_by_role("button")).to_have_text(
        ["Wrong answer", "Outdated", "Didn't answer my question", "Hard to follow", "Other"])
    expect(reasons.get_by_role("button", name="Wrong answer")).to_be_focused()
    page.keyboard.press("Tab")  # keyboard only: Tab to "Outdated", Enter
    expect(reasons.get_by_role("button", name="Outdated")).to_be_focused()
    page.keyboard.press("Enter")
    expect(frame.get_by_role("status").filter(has_text="Thanks")).to_be_visible()
    expect(frame.locator(".vote").get_by_role("button", name="Contact us")).to_be_focused()
    [vote] = events_since(page, store, before, 1, only="vote")
    assert vote["data"] == {"slug": "billing/shipping-costs", "helpful": False,
                            "reason": "outdated", "comment": ""}
    page.wait_for_timeout(300)
    assert len(events_since(page, store, before, 1, only="vote")) == 1  # sent once


def test_other_takes_a_comment(page: Any, shop: HostSite, live_server: LiveServer) -> None:
    frame, store, before = _said_no(page, shop, live_server)
    frame.get_by_role("button", name="Other").click()
    note = frame.get_by_role("textbox", name="Comment (optional)")
    expect(note).to_be_focused()
    note.fill("The rates table is for last year")
    frame.locator(".vote").get_by_role("button", name="Send").click()
    expect(frame.get_by_role("status").filter(has_text="Thanks")).to_be_visible()
    [vote] = events_since(page, store, before, 1, only="vote")
    assert vote["data"]["reason"] == "other"
    assert vote["data"]["comment"] == "The rates table is for last year"


def test_a_no_without_a_reason_is_recorded_on_leaving(
    page: Any, shop: HostSite, live_server: LiveServer
) -> None:
    frame, store, before = _said_no(page, shop, live_server)
    expect(frame.get_by_role("group", name="What went wrong?")).to_be_visible()
    frame.get_by_role("button", name="Back").click()
    [vote] = events_since(page, store, before, 1, only="vote")
    assert vote["data"] == {"slug": "billing/shipping-costs", "helpful": False, "reason": "",
                            "comment": ""}
