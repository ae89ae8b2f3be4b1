"""Accessibility: axe-core finds nothing in either colour scheme; the keyboard does it all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import AXE, HostSite, launcher, open_widget, panel
from .test_answers import OFF_TOPIC, QUESTION

TAGS = ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]

pytestmark = pytest.mark.browser


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    # axe is injected as an inline script, which the panel's own CSP rightly refuses.
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    ctx.set_default_timeout(15000)
    yield ctx
    ctx.close()


def axe(target: Any, selector: str) -> list[dict[str, Any]]:
    if not AXE.is_file():
        pytest.fail("axe-core is missing: run `npm ci` at the top of the repository")
    target.add_script_tag(path=str(AXE))
    result = target.evaluate(
        """([selector, tags]) => axe.run(document.querySelector(selector),
             {runOnly: {type: 'tag', values: tags}})""",
        [selector, TAGS],
    )
    # Guard against a vacuous audit (wrong root, rules not run): contrast must have been checked.
    assert "color-contrast" in {p["id"] for p in result["passes"]}
    return [{"id": v["id"], "nodes": [n["html"] for n in v["nodes"]]}
            for v in result["violations"]]


def embed_frame(page: Any) -> Any:
    return next(f for f in page.frames if "/embed" in f.url)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_launcher_and_every_panel_view_pass_axe(
    page: Any, shop: HostSite, demo_shop: HostSite, scheme: str
) -> None:
    page.emulate_media(color_scheme=scheme)
    frame = open_widget(page, shop.add("/account/login", shop.snippet()))
    assert axe(page, "deskbell-widget") == []

    embed = embed_frame(page)
    expect(frame.get_by_role("option").first).to_be_visible()
    assert axe(embed, "body") == [], "suggestions"

    frame.locator("#q").fill("password")
    expect(frame.locator("#count")).to_contain_text("found")
    frame.locator("#q").press("ArrowDown")
    assert axe(embed, "body") == [], "search results"

    frame.locator("#q").press("Enter")
    expect(frame.get_by_role("button", name="Yes")).to_be_visible()
    assert axe(embed, "body") == [], "article"

    frame.get_by_role("button", name="No").click()
    frame.get_by_role("button", name="Other").click()  # the reasons, and the comment it opens
    expect(frame.get_by_role("textbox", name="Comment (optional)")).to_be_focused()
    assert axe(embed, "body") == [], "why not helpful"
    frame.get_by_role("button", name="Hard to follow").click()
    frame.locator(".vote").get_by_role("button", name="Contact us").click()
    frame.get_by_role("button", name="Send request").click()  # shows the field errors
    expect(frame.locator("#e-name")).not_to_be_empty()
    assert axe(embed, "body") == [], "contact form with errors"

    # Answers (the demo knowledge base has them): the quoted answer above the results, the
    # article opened at the quoted section, and the honest "no exact answer".
    frame = open_widget(page, demo_shop.add("/help", demo_shop.snippet()))
    embed = embed_frame(page)
    frame.locator("#q").fill(QUESTION)
    frame.locator("#q").press("Enter")  # finished typing
    expect(frame.locator("#answer")).to_be_visible()
    assert axe(embed, "body") == [], "answer card"

    frame.get_by_role("button", name="Read the full article").click()
    expect(frame.locator(".article .target")).to_be_focused()
    assert axe(embed, "body") == [], "article at the quoted section"

    frame.get_by_role("button", name="Back").click()
    frame.locator("#q").fill(OFF_TOPIC)
    frame.locator("#q").press("Enter")
    expect(frame.locator("#nores")).to_be_visible()
    assert axe(embed, "body") == [], "no exact answer"


def test_keyboard_alone_reaches_an_answer_and_returns_to_the_page(
    page: Any, shop: HostSite
) -> None:
    page.goto(shop.add("/", '<a href="#top">Shop home</a>' + shop.snippet()))
    expect(launcher(page)).to_be_visible()
    page.keyboard.press("Tab")  # the host's own link
    page.keyboard.press("Tab")
    expect(launcher(page)).to_be_focused()
    page.keyboard.press("Enter")

    frame = panel(page)
    expect(frame.locator("#q")).to_be_focused()
    page.keyboard.type("two factor")
    expect(frame.locator("#count")).to_contain_text("found")
    page.keyboard.press("ArrowDown")
    expect(frame.get_by_role("option").first).to_have_attribute("aria-selected", "true")
    expect(frame.locator("#q")).to_have_attribute("aria-activedescendant", "r-0")
    page.keyboard.press("Enter")
    heading = frame.get_by_role("heading", name="Turn on two-factor authentication")
    expect(heading).to_be_focused()

    # Focus stays inside the open panel: Tab from the last control wraps to the first.
    for _ in range(30):
        page.keyboard.press("Tab")
        assert frame.locator(":focus").count() == 1, "focus left the panel"

    page.keyboard.press("Escape")
    expect(page.locator("#deskbell-panel")).to_be_hidden()
    expect(launcher(page)).to_be_focused()
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")
