"""The page's JavaScript API: queued calls, commands, events, double include, destroy."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import HostSite, launcher, panel

QUEUE_STUB = ("<script>window.Deskbell = window.Deskbell || function () {"
              "(Deskbell.q = Deskbell.q || []).push(arguments) };</script>")

pytestmark = pytest.mark.browser


def test_calls_queued_before_the_loader_arrives_are_run(page: Any, shop: HostSite) -> None:
    url = shop.add("/pricing", QUEUE_STUB + """<script>
        window.seen = [];
        Deskbell('on', 'ready', function () { seen.push('ready'); });
        Deskbell('on', 'open', function () { seen.push('open'); });
        Deskbell('on', 'article-viewed', function (d) { seen.push('viewed:' + d.slug); });
        Deskbell('identify', {name: 'Ada Lovelace', email: 'ada@example.com'});
        Deskbell('article', 'billing/refunds');
        </script>""" + shop.snippet())
    page.goto(url)
    frame = panel(page)
    expect(frame.get_by_role("heading", name="Refunds and returns")).to_be_visible()
    expect(launcher(page)).to_have_attribute("aria-expanded", "true")
    page.wait_for_function("seen.indexOf('viewed:billing/refunds') >= 0")
    assert page.evaluate("seen") == ["ready", "open", "viewed:billing/refunds"]

    # identify() prefilled the contact form.
    frame.get_by_role("button", name="No").click()
    frame.get_by_role("button", name="Hard to follow").click()
    frame.locator(".vote").get_by_role("button", name="Contact us").click()
    expect(frame.get_by_label("Name")).to_have_value("Ada Lovelace")
    expect(frame.get_by_label("Email")).to_have_value("ada@example.com")


def test_commands_drive_the_panel_and_emit_events(page: Any, shop: HostSite) -> None:
    page.goto(shop.add("/", shop.snippet()))
    page.wait_for_function("window.Deskbell && Deskbell.loaded")
    page.evaluate("""() => {
        window.seen = [];
        ['open', 'close', 'search'].forEach(n =>
            Deskbell('on', n, d => seen.push(n + (d ? ':' + d.query + '=' + d.results : ''))));
    }""")
    frame = panel(page)

    page.evaluate("Deskbell('search', 'shipping')")
    expect(frame.locator("#q")).to_have_value("shipping")
    expect(frame.get_by_role("option").first).to_contain_text("Shipping costs")
    # A settled search is reported once, about 1.5 s after the last change.
    page.wait_for_function("seen.some(s => s.startsWith('search:'))")

    page.evaluate("Deskbell('toggle')")
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#deskbell-panel")).to_be_hidden()
    page.evaluate("Deskbell('open')")
    expect(page.locator("#deskbell-panel")).to_be_visible()
    page.evaluate("Deskbell('prefill', {subject: 'Where is my parcel?', message: 'Order 1234'})")
    page.evaluate("Deskbell('close')")
    assert page.evaluate("seen") == ["open", "search:shipping=1", "close", "open", "close"]

    page.evaluate("Deskbell('open')")
    frame.locator("#foot").get_by_role("button", name="Contact us").click()
    expect(frame.get_by_label("Subject")).to_have_value("Where is my parcel?")
    expect(frame.get_by_label("Message")).to_have_value("Order 1234")


def test_suggest_replaces_the_page_suggestions(page: Any, shop: HostSite) -> None:
    page.goto(shop.add("/", shop.snippet()))
    page.wait_for_function("window.Deskbell && Deskbell.loaded")
    page.evaluate("Deskbell('suggest', ['account/two-factor', 'billing/shipping-costs'])")
    page.evaluate("Deskbell('open')")
    options = panel(page).get_by_role("option")
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_contain_text("two-factor")
    expect(options.nth(1)).to_contain_text("Shipping costs")


def test_double_include_draws_one_launcher_and_destroy_removes_everything(
    page: Any, shop: HostSite
) -> None:
    page.goto(shop.add("/", shop.snippet() + shop.snippet(color="#ff0000")))
    page.wait_for_function("window.Deskbell && Deskbell.loaded")
    page.wait_for_load_state("load")
    expect(page.locator("deskbell-widget")).to_have_count(1)
    expect(launcher(page)).to_have_count(1)
    launcher(page).click()
    expect(panel(page).locator("#q")).to_be_focused()

    page.evaluate("Deskbell('destroy')")
    expect(page.locator("deskbell-widget")).to_have_count(0)
    assert page.evaluate("typeof window.Deskbell") == "undefined"
    assert page.locator("iframe").count() == 0


def test_a_fully_prefilled_form_sent_at_once_is_accepted(page: Any, shop: HostSite,
                                                         live_server: Any) -> None:
    # identify + prefill fill every field: a person may press Send immediately, faster than
    # the server's bot timer allows; the panel waits out the difference instead of failing.
    url = shop.add("/account", QUEUE_STUB + """<script>
        Deskbell('identify', {name: 'Grace Hopper', email: 'grace@example.com'});
        Deskbell('prefill', {subject: 'Invoice copy', message: 'Please resend invoice 77'});
        </script>""" + shop.snippet(mode="ask-first"))
    page.goto(url)
    launcher(page).click()
    frame = panel(page)
    expect(frame.get_by_label("Subject")).to_have_value("Invoice copy")
    frame.get_by_role("button", name="Send request").click()
    reference = frame.locator("#ref")
    expect(reference).to_be_visible()
    stored = live_server.app.state.services.tickets.get(reference.inner_text())
    assert stored["subject"] == "Invoice copy" and stored["email"] == "grace@example.com"
