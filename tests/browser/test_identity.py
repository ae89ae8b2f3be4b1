"""A customer signed in on the site sees their requests in the panel on any device: the
site signs who they are, the panel lists and opens their tickets without a token."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from widget_server import identity

from .conftest import IDENTITY_SECRET, HostSite, panel
from .test_contact import send

pytestmark = pytest.mark.browser


def opened_elsewhere(shop: HostSite, email: str, subject: str) -> str:
    """A ticket opened on another device: this browser holds no token for it."""
    helpdesk = shop.server.app.state.services.helpdesk
    return helpdesk.open_ticket({"name": "Ana Lima", "email": email, "subject": subject,
                                 "message": "Opened on my phone.", "elapsed_ms": 5000}).reference


def signed_page(shop: HostSite, path: str, who: dict[str, Any]) -> str:
    return shop.add(path, f"<script>window.Deskbell = window.Deskbell || function () {{"
                          f"(Deskbell.q = Deskbell.q || []).push(arguments) }};"
                          f"Deskbell('identify', {json.dumps(who)});</script>" + shop.snippet())


def test_a_signed_customer_reads_and_answers_tickets_from_another_device(
        page: Any, shop: HostSite) -> None:
    email = "ana.signed@example.com"
    reference = opened_elsewhere(shop, email, "Parcel never arrived")
    opened_elsewhere(shop, "someone.else@example.com", "Not Ana's")
    who = {"name": "Ana Lima", "email": email,
           "signature": identity.sign(IDENTITY_SECRET, email)}
    page.goto(signed_page(shop, "/account", who))
    page.wait_for_function("window.Deskbell && Deskbell.loaded")
    page.evaluate("Deskbell('open')")
    frame = panel(page)
    frame.locator("#mine").click()
    mine = frame.locator("ul.links li")
    expect(mine).to_have_count(1)
    expect(mine.first).to_contain_text(f"Parcel never arrived ({reference})")
    mine.first.get_by_role("button").click()
    expect(frame.get_by_role("heading", name="Parcel never arrived")).to_be_visible()
    expect(frame.locator(".thread")).to_contain_text("Opened on my phone.")
    frame.get_by_label("Add a message").fill("Still nothing, tracking says delivered.")
    frame.get_by_role("button", name="Send message").click()
    expect(frame.locator(".thread")).to_contain_text("tracking says delivered")
    ticket = shop.server.app.state.services.tickets.get(reference)
    assert ticket["thread"][-1]["body"] == "Still nothing, tracking says delivered."


def test_a_forged_signature_shows_nothing_and_only_prefills(page: Any, shop: HostSite) -> None:
    email = "victim@example.com"
    opened_elsewhere(shop, email, "Private matter")
    forged = {"name": "Mallory", "email": email,
              "signature": identity.sign("guessed-secret", email)}
    page.goto(signed_page(shop, "/forged", forged))
    page.wait_for_function("window.Deskbell && Deskbell.loaded")
    page.evaluate("Deskbell('open')")
    frame = panel(page)
    frame.locator("#mine").click()
    expect(frame.get_by_text("You have not sent any requests from this browser yet.")
           ).to_be_visible()
    expect(frame.get_by_text("Private matter")).to_have_count(0)


def test_a_ticket_opened_signed_in_is_bound_to_the_user_id(page: Any, shop: HostSite) -> None:
    who = {"name": "Bo Chen", "email": "bo@example.com", "user_id": "customer-981",
           "signature": identity.sign(IDENTITY_SECRET, "customer-981")}
    page.goto(signed_page(shop, "/signed-contact", who))
    page.wait_for_function("window.Deskbell && Deskbell.loaded")
    page.evaluate("Deskbell('prefill', {subject: 'Change my plan'})")
    page.evaluate("Deskbell('open')")
    frame = panel(page)
    frame.locator("#q").fill("pallet freight to iceland")
    frame.locator("#nores").get_by_role("button", name="Contact us").click()
    expect(frame.get_by_label("Email")).to_have_value("bo@example.com")
    frame.get_by_label("Message").fill("Please move me to the yearly plan.")
    reference = send(frame)
    ticket = shop.server.app.state.services.tickets.get(reference)
    assert ticket["user_id"] == "customer-981" and ticket["signed_by"] == "user_id"
