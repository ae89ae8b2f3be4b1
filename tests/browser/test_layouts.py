"""Right-to-left (Arabic) and phone layouts, with screenshots kept in test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import HostSite, launcher, open_widget, search_finished

pytestmark = pytest.mark.browser


def test_arabic_page_gets_a_mirrored_arabic_widget(
    page: Any, shop: HostSite, artifacts: Callable[[str], str]
) -> None:
    url = shop.add("/account/login", "<h1>تسجيل الدخول</h1>" + shop.snippet(), lang="ar")
    page.goto(url)
    button = launcher(page)
    expect(button).to_have_text("مساعدة")
    box = button.bounding_box()
    assert box is not None and box["x"] < 100  # bottom-left: mirrored

    frame = open_widget(page, url)
    expect(frame.locator("html")).to_have_attribute("dir", "rtl")
    expect(frame.locator("html")).to_have_attribute("lang", "ar")
    expect(frame.get_by_role("heading", level=1)).to_have_text("كيف يمكننا مساعدتك؟")
    panel_box = page.locator("#deskbell-panel").bounding_box()
    assert panel_box is not None and panel_box["x"] < 100
    # In RTL the close button sits at the start of the bar, which is the left.
    close = frame.get_by_role("button", name="إغلاق المساعدة").bounding_box()
    title = frame.get_by_role("heading", level=1).bounding_box()
    assert close is not None and title is not None and close["x"] < title["x"]
    expect(frame.get_by_role("option").first).to_be_visible()
    page.screenshot(path=artifacts("rtl-ar.png"))

    frame.get_by_role("option").first.click()
    expect(frame.get_by_role("button", name="نعم")).to_be_visible()
    page.screenshot(path=artifacts("rtl-ar-article.png"))


def test_phone_gets_a_full_screen_panel(
    browser: Any, shop: HostSite, artifacts: Callable[[str], str]
) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                              has_touch=True, device_scale_factor=2)
    ctx.set_default_timeout(15000)
    try:
        page = ctx.new_page()
        viewport = '<meta name="viewport" content="width=device-width, initial-scale=1">'
        page.goto(shop.add("/pricing", "<h1>Pricing</h1>" + shop.snippet(), head=viewport))
        page.screenshot(path=artifacts("mobile-closed.png"))
        launcher(page).tap()
        frame = page.frame_locator("#deskbell-panel")
        frame.locator("#q").fill("shipping")
        search_finished(frame)  # a tap while the list is being replaced may land elsewhere
        expect(frame.locator("#count")).to_contain_text("found")
        box = page.locator("#deskbell-panel").bounding_box()
        assert box == {"x": 0, "y": 0, "width": 390, "height": 844}
        page.screenshot(path=artifacts("mobile-open.png"))
        frame.get_by_role("option").first.tap()
        expect(frame.get_by_role("button", name="Yes")).to_be_visible()
        page.screenshot(path=artifacts("mobile-article.png"))
        frame.get_by_role("button", name="Close help").tap()
        expect(page.locator("#deskbell-panel")).to_be_hidden()
    finally:
        ctx.close()


def test_dark_scheme_screenshot(page: Any, shop: HostSite, artifacts: Callable[[str], str]) -> None:
    page.emulate_media(color_scheme="dark")
    frame = open_widget(page, shop.add("/", shop.snippet(color="#fbbf24", position="left")))
    frame.locator("#q").fill("refund")
    expect(frame.locator("#count")).to_contain_text("found")
    box = launcher(page).bounding_box()
    assert box is not None and box["x"] < 100
    # A light brand colour gets dark text, so the label stays readable.
    color = launcher(page).evaluate("b => getComputedStyle(b).color")
    assert color == "rgb(17, 17, 17)"
    page.screenshot(path=artifacts("dark-left-yellow.png"))
