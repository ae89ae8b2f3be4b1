"""A visitor helps themselves: suggestions for the page, search with a typo, read, vote."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from .conftest import HostSite, launcher, open_widget, panel


def test_visitor_finds_and_rates_an_answer(page: Any, shop: HostSite) -> None:
    url = shop.add("/account/login", "<h1>Sign in</h1>" + shop.snippet())
    frame = open_widget(page, url)

    # The page is a login page, so the password article is suggested before any typing.
    expect(frame.locator("#list-h")).to_have_text("Suggested for this page")
    expect(frame.get_by_role("option").first).to_contain_text("Reset your password")

    frame.locator("#q").press_sequentially("pasword reset", delay=20)
    expect(frame.locator("#count")).to_contain_text("found")
    first = frame.get_by_role("option").first
    expect(first).to_contain_text("Reset your password")
    expect(first.locator("mark").first).to_be_visible()

    first.click()
    expect(frame.get_by_role("heading", name="Reset your password")).to_be_focused()
    expect(frame.locator(".article")).to_contain_text("Forgot password")
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
