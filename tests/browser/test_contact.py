"""When self-service fails: contact us, with the trail attached; then follow the request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from widget_server.insights import satisfaction

from .conftest import HostSite, LiveServer, open_widget

pytestmark = pytest.mark.browser


def type_like_a_person(locator: Any, text: str) -> None:
    # Real typing speed: the server refuses forms completed faster than a person can.
    locator.press_sequentially(text, delay=40)


def found(page: Any, server: LiveServer, q: str) -> int:
    reply = page.request.get(f"{server.url}/api/v1/search",
                             params={"q": q, "limit": 8, "locale": "en"})
    return int(reply.json()["total"])


def send(frame: Any) -> str:
    """Press Send; returns the reference shown, or fails with the message the visitor saw."""
    frame.get_by_role("button", name="Send request").click()
    outcome = frame.locator("#ref, #form-err:not(:empty)").first
    expect(outcome).to_be_visible()
    problems = frame.locator("#form-err, .field .err").all_inner_texts()
    assert outcome.get_attribute("id") == "ref", problems
    return str(outcome.inner_text())


def test_contact_after_a_failed_search_carries_the_trail(
    page: Any, shop: HostSite, live_server: LiveServer
) -> None:
    url = shop.add("/pricing", "<h1>Pricing</h1>" + shop.snippet())
    frame = open_widget(page, url)

    # First a search that works and an article that does not help.
    frame.locator("#q").fill("refund")
    frame.locator("#q").press("Enter")  # finished typing: the full search, with its answer
    expect(frame.locator("#answer")).to_contain_text("Refunds and returns")
    frame.get_by_role("option", name="Refunds and returns").click()
    frame.get_by_role("button", name="No").click()
    frame.get_by_role("group", name="What went wrong?").get_by_role(
        "button", name="Didn't answer my question").click()
    expect(frame.get_by_text("Sorry this didn't help")).to_be_visible()
    frame.get_by_role("button", name="Back").click()

    # Then a search with no answer: once typed, the way to a person comes first.
    frame.locator("#q").fill("pallet freight to iceland")
    expect(frame.locator("#nores")).to_contain_text("We couldn't find an exact answer")
    frame.locator("#nores").get_by_role("button", name="Contact us").click()

    subject = frame.get_by_label("Subject")
    expect(frame.get_by_label("Name")).to_be_focused()
    expect(subject).to_have_value("pallet freight to iceland")  # carried over from the search

    # Wrong input is explained next to the field and nothing is sent.
    frame.get_by_label("Name").fill("Grace Hopper")
    frame.get_by_label("Email").fill("grace@")
    frame.get_by_role("button", name="Send request").click()
    expect(frame.locator("#e-email")).to_have_text("Please enter a valid email address.")
    expect(frame.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    expect(frame.locator("#e-message")).to_have_text("Please fill in this field.")

    frame.get_by_label("Email").fill("grace@example.com")
    subject.fill("")
    type_like_a_person(subject, "Refund for a pallet")
    # Articles matching the subject are offered before sending.
    expect(frame.locator("#may-help")).to_contain_text("Refunds and returns")
    type_like_a_person(frame.get_by_label("Message"), "Can I return a pallet?")
    reference = send(frame)
    expect(frame.get_by_role("heading", name="Request sent")).to_be_focused()
    assert reference.startswith("DB-")

    stored = live_server.app.state.services.tickets.get(reference)
    assert stored["subject"] == "Refund for a pallet"
    assert stored["page_url"] == url
    trail = stored["trail"]
    assert trail["session"].startswith("s_") and len(trail["session"]) == 24
    assert trail["page_url"] == url
    # Each search once, with as many articles as the finished search found.
    assert [(s["q"], s["results"]) for s in trail["searches"]] == [
        (q, found(page, live_server, q)) for q in ("refund", "pallet freight to iceland")]
    assert [(a["slug"], a["source"]) for a in trail["articles"]] == [("billing/refunds", "search")]
    assert [(v["slug"], v["helpful"]) for v in trail["votes"]] == [("billing/refunds", False)]


def solved_request(page: Any, site: HostSite) -> tuple[Any, str]:
    """A visitor sends a request, an agent solves it, the visitor opens it again."""
    frame = open_widget_contact(page, site.add("/", site.snippet(mode="ask-first")))
    frame.get_by_label("Name").fill("Alan")
    frame.get_by_label("Email").fill("alan@example.com")
    type_like_a_person(frame.get_by_label("Subject"), "Parcel not arrived")
    type_like_a_person(frame.get_by_label("Message"), "Order 42 is late. It was due on Monday.")
    reference = send(frame)

    state = site.server.app.state.services
    state.helpdesk.agent_reply(
        reference, "It left the warehouse today.", "solved", "Sam")
    frame.get_by_role("button", name="Your requests").first.click()
    frame.get_by_role("button", name=f"Parcel not arrived ({reference})").click()
    expect(frame.get_by_text("Solved")).to_be_visible()
    expect(frame.locator(".thread")).to_contain_text("It left the warehouse today.")
    expect(frame.locator(".thread")).to_contain_text("Sam")
    return frame, reference


def test_visitor_follows_replies_and_rates_the_answer(
    page: Any, shop: HostSite, live_server: LiveServer
) -> None:
    frame, reference = solved_request(page, shop)
    expect(frame.get_by_role("button", name="Send rating")).to_be_visible()
    expect(frame.get_by_text("recommend us")).to_have_count(0)  # nps_enabled is off

    frame.get_by_label("5").check()
    frame.get_by_label("How easy was it to get help?").select_option("6")
    frame.get_by_role("button", name="Send rating").click()
    expect(frame.get_by_role("status").filter(has_text="Thanks for rating")).to_be_visible()
    rating = live_server.app.state.services.tickets.get(reference)["ratings"][-1]
    assert (rating["csat"], rating["ces"], rating["nps"]) == (5, 6, None)


def test_visitor_answers_the_nps_question_when_it_is_enabled(
    page: Any, nps_shop: HostSite, nps_server: LiveServer
) -> None:
    frame, reference = solved_request(page, nps_shop)
    nps = frame.get_by_role("group", name="How likely are you to recommend us")
    expect(nps.get_by_role("radio")).to_have_count(11)
    expect(nps.get_by_label("0", exact=True)).to_be_visible()
    expect(nps.get_by_label("10", exact=True)).to_be_visible()

    frame.get_by_role("group", name="How satisfied are you?").get_by_label("4").check()
    nps.get_by_label("9", exact=True).check()
    frame.get_by_role("button", name="Send rating").click()
    expect(frame.get_by_role("status").filter(has_text="Thanks for rating")).to_be_visible()
    ticket = nps_server.app.state.services.tickets.get(reference)
    assert [(r["csat"], r["ces"], r["nps"]) for r in ticket["ratings"]] == [(4, None, 9)]

    # Insights count it where they count NPS: one promoter out of one answer.
    day = timedelta(days=1)
    sat = satisfaction([ticket], datetime.now(UTC) - day, datetime.now(UTC) + day)
    assert (sat.nps, sat.nps_answers) == (100, 1)


def open_widget_contact(page: Any, url: str) -> Any:
    """ask-first mode: the contact form comes first."""
    from .conftest import launcher, panel

    page.goto(url)
    launcher(page).click()
    frame = panel(page)
    expect(frame.get_by_label("Name")).to_be_focused()
    return frame
