"""The widget survives a hostile host page: aggressive global CSS and a strict CSP."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import HostSite, launcher, panel

NONCE = "r4nd0mN0nce"
HOSTILE_CSS = """
* { all: unset !important; }
html, body, div, span, button, iframe { box-sizing: content-box !important; }
button, iframe, svg { display: none !important; visibility: hidden !important; }
body > * { filter: saturate(1) !important; transform: translateZ(0) !important; }
div { position: relative !important; z-index: 2147483647 !important;
      transform: scale(1) !important; }
.cover { position: fixed !important; inset: 0 !important; z-index: 2147483647 !important;
         pointer-events: none !important; background: rgba(255, 0, 0, .05) !important; }
"""
# Every violation either document reports, collected before any page script runs.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""

pytestmark = pytest.mark.browser


def strict_csp(server_url: str) -> str:
    return (f"default-src 'self'; script-src 'nonce-{NONCE}' 'strict-dynamic'; "
            f"style-src 'self'; frame-src {server_url}; connect-src 'self'; "
            "require-trusted-types-for 'script'; trusted-types 'none'")


def test_widget_renders_and_works_under_hostile_css_and_strict_csp(
    page: Any, shop: HostSite, artifacts: Any
) -> None:
    page.add_init_script(WATCH_VIOLATIONS)
    # The stylesheet is served by the host itself, as style-src 'self' demands.
    shop.hosting.pages["/hostile.css"] = (HOSTILE_CSS, {"Content-Type": "text/css"})
    snippet = shop.snippet().replace("<script ", f'<script nonce="{NONCE}" ')
    url = shop.add(
        "/checkout",
        '<div class="cover"></div><div><h1>Checkout</h1><button>Pay</button></div>' + snippet,
        head='<link rel="stylesheet" href="/hostile.css">',
        headers={"Content-Security-Policy": strict_csp(shop.server.url)},
    )
    page.goto(url)

    button = launcher(page)
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box is not None and box["width"] >= 44 and box["height"] >= 44
    viewport = page.viewport_size
    # Bottom-right corner, fully on screen, and nothing of the host's sits on top of it.
    assert box["x"] + box["width"] <= viewport["width"] - 10
    assert box["y"] + box["height"] <= viewport["height"] - 10
    assert box["x"] > viewport["width"] / 2 and box["y"] > viewport["height"] / 2
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y).localName", centre)
    assert hit == "deskbell-widget"

    button.click()
    frame = panel(page)
    expect(frame.locator("#q")).to_be_focused()
    frame_box = page.locator("#deskbell-panel").bounding_box()
    assert frame_box is not None
    assert 360 <= frame_box["width"] <= 420 and frame_box["height"] >= 400
    assert frame_box["y"] + frame_box["height"] <= box["y"]  # the panel sits above the launcher

    # The panel still works end to end under the host's policy, the quoted answer included.
    frame.locator("#q").fill("refund")
    frame.locator("#q").press("Enter")  # finished typing: the full search, with its answer
    expect(frame.locator("#answer figcaption")).to_have_text("From Refunds and returns")
    expect(frame.get_by_role("option").first).to_contain_text("Refunds")
    page.screenshot(path=artifacts("hostile-host.png"))

    embed = next(f for f in page.frames if "/embed" in f.url)
    assert page.evaluate("window.__violations") == []
    assert embed.evaluate("window.__violations") == []
    assert page.console_log.csp_violations() == []
    assert not [m for m in page.console_log.messages if "Trusted" in m or "pageerror" in m]
