"""Answers in the panel, against Deskbell's own user guide (the demo knowledge base).

A question in the visitor's own words gets one section of the right article, quoted, with a
way into the whole article at that section; a question the guide cannot answer says so, puts
the way to a person first and shows the nearest articles for what they are.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import HostSite, open_widget

pytestmark = pytest.mark.browser

# "Chat window" and "empty" are the visitor's words; the guide says "panel" and "blank".
QUESTION = "the chat window is empty when it opens"
ARTICLE = "Troubleshooting common problems"
SECTION = "The launcher appears but the panel is blank"
ANCHOR = "the-launcher-appears-but-the-panel-is-blank"
QUOTED = "The panel is an iframe from your Deskbell server"

MISSPELT = "how do I exprot my tikets as csv"
MISSPELT_ARTICLE, MISSPELT_SECTION = "Exporting tickets and events", "Tickets"
MISSPELT_QUOTED = "deskbell export tickets --format csv"

OFF_TOPIC = "my dishwasher won't drain"
# Any question with words gets the articles nearest in meaning; nothing is near no words at all.
NOTHING = "???"


def ask(frame: Any, text: str) -> None:
    # A person's pace: slower than the panel's debounce, so searches run while they type.
    frame.locator("#q").press_sequentially(text, delay=40)


def test_a_question_in_other_words_gets_the_right_section_quoted(
    page: Any, demo_shop: HostSite
) -> None:
    frame = open_widget(page, demo_shop.add("/", demo_shop.snippet()))
    ask(frame, QUESTION)

    card = frame.locator("#answer")
    expect(card).to_be_visible()
    expect(card.get_by_role("heading", name="Answer")).to_be_visible()
    expect(card.locator("figcaption")).to_have_text(f"From {ARTICLE} › {SECTION}")
    expect(card.locator("blockquote")).to_contain_text(QUOTED)
    # The section's own heading is in the caption, not repeated inside the quote.
    expect(card.locator("blockquote")).not_to_contain_text(SECTION)
    expect(frame.locator("#said")).to_have_text(f"Answer found in {ARTICLE} › {SECTION}.")
    # The quote comes first; the other articles follow as ordinary results.
    expect(frame.get_by_role("option").first).to_be_visible()
    assert box(card)["y"] < box(frame.locator("#results"))["y"]
    expect(frame.locator("#nores")).to_be_hidden()

    # Keyboard: from the search box, Tab walks through the card (the quote's own links, then
    # its action) before anything else.
    read = card.get_by_role("button", name="Read the full article")
    frame.locator("#q").press("Tab")
    for _ in range(20):
        assert frame.locator("#answer :focus").count() == 1, "focus left the card"
        if read.evaluate("b => b === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(read).to_be_focused()
    page.keyboard.press("Enter")

    # The whole article, scrolled inside the panel to the quoted section, focus on its heading.
    expect(frame.get_by_role("heading", name=ARTICLE, exact=True)).to_be_attached()
    section = frame.locator(".article").get_by_role("heading", name=SECTION)
    expect(section).to_be_focused()
    expect(section).to_have_attribute("id", ANCHOR)
    expect(section).to_be_in_viewport()
    scroller = frame.locator("main")
    assert scroller.evaluate("m => m.scrollTop") > 0
    offset = section.evaluate(
        "h => h.getBoundingClientRect().top - h.closest('main').getBoundingClientRect().top")
    assert 0 <= offset < 40, offset
    assert page.evaluate("window.scrollY") == 0  # the host page did not move

    # Back returns to the card, as it was.
    frame.get_by_role("button", name="Back").click()
    expect(frame.locator("#q")).to_have_value(QUESTION)
    expect(card.locator("figcaption")).to_have_text(f"From {ARTICLE} › {SECTION}")
    assert page.console_log.csp_violations() == []


def test_a_misspelt_question_still_gets_its_answer(page: Any, demo_shop: HostSite) -> None:
    frame = open_widget(page, demo_shop.add("/", demo_shop.snippet()))
    ask(frame, MISSPELT)
    card = frame.locator("#answer")
    expect(card.locator("figcaption")).to_have_text(
        f"From {MISSPELT_ARTICLE} › {MISSPELT_SECTION}")
    expect(card.locator("blockquote")).to_contain_text(MISSPELT_QUOTED)
    card.get_by_role("button", name="Read the full article").click()
    section = frame.locator(".article").get_by_role("heading", name=MISSPELT_SECTION, exact=True)
    expect(section).to_be_focused()
    expect(section).to_be_in_viewport()
    assert page.console_log.csp_violations() == []


def test_an_off_topic_question_says_so_and_offers_a_person_first(
    page: Any, demo_shop: HostSite
) -> None:
    frame = open_widget(page, demo_shop.add("/", demo_shop.snippet()))
    embed = next(f for f in page.frames if "/embed" in f.url)
    # Record every moment the "no answer" note is on screen, and for which text.
    embed.evaluate("""() => {
        const note = document.getElementById('nores'), q = document.getElementById('q');
        window.noteShown = [];
        new MutationObserver(() => { if (!note.hidden) window.noteShown.push(q.value); })
            .observe(note, {attributes: true});
    }""")
    ask(frame, OFF_TOPIC)

    note = frame.locator("#nores")
    expect(note).to_be_visible()
    expect(note.get_by_role("heading")).to_have_text("We couldn't find an exact answer")
    expect(frame.locator("#answer")).to_be_hidden()
    expect(frame.locator("#said")).to_have_text("We couldn't find an exact answer")
    # Not on every keystroke: only once the visitor stopped typing, for the whole question.
    assert set(embed.evaluate("window.noteShown")) == {OFF_TOPIC}

    contact = note.get_by_role("button", name="Contact us")
    expect(contact).to_be_visible()
    options = frame.get_by_role("option")
    if options.count():  # whatever comes close is shown below, for what it is
        expect(frame.locator("#list-h")).to_have_text("Closest articles")
        expect(frame.get_by_role("listbox", name="Closest articles")).to_be_visible()
        assert box(contact)["y"] < box(frame.locator("#list-h"))["y"]
        expect(note).to_contain_text("The closest articles are below.")
    # The note carries the way to a person, so the footer does not repeat it.
    expect(frame.locator("#foot")).to_be_hidden()

    frame.locator("#q").press("Tab")
    expect(contact).to_be_focused()
    page.keyboard.press("Enter")
    expect(frame.get_by_label("Name")).to_be_focused()
    expect(frame.get_by_label("Subject")).to_have_value(OFF_TOPIC)
    assert page.console_log.csp_violations() == []


def test_no_results_at_all_is_the_same_honest_state(page: Any, demo_shop: HostSite) -> None:
    frame = open_widget(page, demo_shop.add("/", demo_shop.snippet()))
    frame.locator("#q").fill(NOTHING)
    frame.locator("#q").press("Enter")  # done typing
    note = frame.locator("#nores")
    expect(note.get_by_role("heading")).to_have_text("We couldn't find an exact answer")
    expect(note).to_contain_text(f"No articles match “{NOTHING}”.")
    expect(note.get_by_role("button", name="Contact us")).to_be_visible()
    expect(frame.locator("#results")).to_be_hidden()
    expect(frame.locator("#list-h")).to_be_hidden()


def test_the_answer_card_reads_right_to_left_in_arabic(page: Any, demo_shop: HostSite) -> None:
    url = demo_shop.add("/", demo_shop.snippet(locale="ar"), lang="ar")
    frame = open_widget(page, url)
    ask(frame, QUESTION)
    card = frame.locator("#answer")
    expect(card.get_by_role("button", name="اقرأ المقال كاملًا")).to_be_visible()
    expect(card.locator("figcaption")).to_have_text(f"من {ARTICLE} › {SECTION}")
    # The accent bar sits at the start of the line, which is the right in Arabic.
    widths = card.evaluate("""c => { const s = getComputedStyle(c);
        return [s.borderRightWidth, s.borderLeftWidth]; }""")
    assert widths == ["4px", "1px"]
    # The English quote keeps its own direction inside the Arabic panel.
    assert card.locator("blockquote").evaluate("q => getComputedStyle(q).direction") == "ltr"
    card.get_by_role("button", name="اقرأ المقال كاملًا").click()
    expect(frame.locator(".article").get_by_role("heading", name=SECTION)).to_be_focused()
    assert page.console_log.csp_violations() == []


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None
    return dict(found)
