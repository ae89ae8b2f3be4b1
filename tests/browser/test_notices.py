"""The owner's notice in a real Chromium: a banner at the top of the panel, in the visitor's
language, mirrored in Arabic, its hostile text shown as text, its article opened in the panel."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from widget_server.notices import NoticeBoard, new_notice
from widget_server.routes.widget import strings

from .conftest import FIXTURE_KB, HostPages, HostSite, LiveServer, _serve_kb, open_widget
from .test_accessibility import axe, context, embed_frame  # noqa: F401 (context: the fixture axe needs)

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="window.pwned=1"> Checkout is failing; we\'re on it'
ARABIC = "نعلم أن الدفع متعطل ونعمل على إصلاحه"


@pytest.fixture(scope="module")
def notice_server(tmp_path_factory: pytest.TempPathFactory,
                  host_pages: HostPages) -> Iterator[LiveServer]:
    """A server of its own: a notice here must not show in the other tests' panels."""
    yield from _serve_kb(FIXTURE_KB, tmp_path_factory.mktemp("deskbell-notices"), host_pages)


@pytest.fixture
def site(host_pages: HostPages, notice_server: LiveServer) -> Iterator[HostSite]:
    host_pages.pages.clear()
    board: NoticeBoard = notice_server.app.state.services.notices
    now = board.clock()
    board.publish(new_notice(HOSTILE, until=now + timedelta(hours=1), now=now,
                             texts={"ar": ARABIC}, article="billing/refunds",
                             find_article=lambda slug: slug))
    yield HostSite(notice_server, host_pages)
    board.clear()


def test_the_banner_shows_hostile_text_as_text_and_opens_its_article_in_the_panel(
    page: Any, site: HostSite
) -> None:
    url = site.add("/checkout", "<h1>Checkout</h1>" + site.snippet())
    frame = open_widget(page, url)
    banner = frame.get_by_role("status").filter(has_text="Checkout is failing")
    expect(banner).to_have_text(HOSTILE + " Read the full article")
    assert frame.locator(".notice img").count() == 0
    assert page.evaluate("window.pwned") is None
    assert embed_frame(page).evaluate("window.pwned") is None
    expect(frame.locator("#q")).to_be_focused()  # the banner does not take the focus

    frame.get_by_role("link", name="Read the full article").click()
    expect(frame.get_by_role("heading", level=2)).to_have_text("Refunds and returns")
    assert page.url == url  # opened in the panel, not by leaving the shop
    expect(banner).to_be_visible()  # above every view


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_banner_passes_axe(page: Any, site: HostSite, scheme: str) -> None:
    page.emulate_media(color_scheme=scheme)
    open_widget(page, site.add("/", site.snippet()))
    embed = embed_frame(page)
    embed.wait_for_selector(".notice")
    assert axe(embed, "body") == []


def test_an_arabic_panel_shows_the_arabic_text_right_to_left(
    page: Any, site: HostSite, artifacts: Callable[[str], str]
) -> None:
    frame = open_widget(page, site.add("/ar", site.snippet(), lang="ar"))
    banner = frame.locator(".notice")
    expect(banner).to_have_attribute("role", "status")
    expect(banner.locator("span")).to_have_text(ARABIC)
    expect(banner.get_by_role("link")).to_have_text(strings("ar")["answer_read"])
    assert banner.evaluate("n => getComputedStyle(n).direction") == "rtl"
    text, link = banner.locator("span").bounding_box(), banner.get_by_role("link").bounding_box()
    assert text is not None and link is not None and link["x"] < text["x"]  # reads right to left
    page.screenshot(path=artifacts("notice-ar.png"))
