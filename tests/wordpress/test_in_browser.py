"""The owner sets Deskbell up in wp-admin; visitors use it on the WordPress site, in Chromium."""

from __future__ import annotations

import urllib.parse

from playwright.sync_api import expect

from widget_server import identity

from .conftest import IDENTITY_SECRET, OWNER, REPO, Deskbell, Tab, WordPress, log_in

HOSTILE_LABEL = 'Help" autofocus onfocus="alert(1)'
# What WordPress's own profile form lets through: quotes, apostrophes, ampersands.
QUOTED_NAME = 'Ada "Ace" O\'Brien & Co'


def artifact(name: str) -> str:
    """Screenshots for people to look at; test-artifacts/ is not committed."""
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    return str(REPO / "test-artifacts" / name)


def launcher(page: object) -> object:
    return page.locator("deskbell-widget button.b")  # type: ignore[attr-defined]


def type_like_a_person(locator: object, text: str) -> None:
    # Deskbell refuses contact forms filled faster than a person types.
    locator.press_sequentially(text, delay=40)  # type: ignore[attr-defined]


def test_owner_sets_up_the_widget_and_hostile_values_stay_inert(
    tab: Tab, wordpress: WordPress, deskbell: Deskbell
) -> None:
    wordpress.run_php("delete_option('deskbell_settings');")
    page = tab.page
    log_in(page, wordpress, "/wp-admin/options-general.php?page=deskbell")
    expect(page.get_by_role("heading", name="Deskbell", exact=True)).to_be_visible()

    page.get_by_label("Server URL").fill(deskbell.url + "/")
    page.get_by_label("Colour").fill("#0A7D32")
    page.get_by_role("button", name="Save Changes").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(page.get_by_label("Server URL")).to_have_value(deskbell.url)  # trailing slash dropped
    expect(page.get_by_label("Colour")).to_have_value("#0a7d32")

    # Hostile values: a script URL is refused and the working one kept; the label is stored
    # as text; a forged colour (the field's pattern bypassed) is refused.
    page.get_by_label("Server URL").fill("javascript:alert(1)")
    page.get_by_label("Button label").fill(HOSTILE_LABEL)
    page.get_by_label("Colour").evaluate("el => { el.removeAttribute('pattern'); el.value = '\"><script>alert(3)</script>'; }")
    page.get_by_role("button", name="Save Changes").click()
    expect(page.get_by_text("The server URL must start with http:// or https://")).to_be_visible()
    expect(page.get_by_text("The colour must be a hex colour")).to_be_visible()
    expect(page.get_by_label("Server URL")).to_have_value(deskbell.url)
    expect(page.get_by_label("Colour")).to_have_value("#0a7d32")
    expect(page.get_by_label("Button label")).to_have_value(HOSTILE_LABEL)
    page.screenshot(path=artifact(f"wp-{wordpress.version}-settings.png"), full_page=True)

    # Identify: the owner's name, quotes and all, must reach the contact form as text; with
    # the identity secret, WordPress signs the user and the panel lists their requests.
    page.get_by_label("Fill in the contact form with the logged-in user").check()
    page.get_by_label("Identity secret").fill("too short")
    page.get_by_role("button", name="Save Changes").click()
    expect(page.get_by_text("The identity secret must be 16 to 256")).to_be_visible()
    page.get_by_label("Identity secret").fill(IDENTITY_SECRET)
    page.get_by_role("button", name="Save Changes").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    assert IDENTITY_SECRET not in page.content()  # saved, never shown again
    wordpress.run_php(f"wp_update_user(array('ID' => 1, 'display_name' => {php_literal(QUOTED_NAME)}));")
    user_id = f"wp-1@{urllib.parse.urlsplit(wordpress.url).netloc}"
    earlier = deskbell.app.state.services.helpdesk.open_ticket({  # type: ignore[attr-defined]
        "name": "Owner", "email": OWNER[2], "subject": "Asked from my phone",
        "message": "Opened on another device.", "elapsed_ms": 5000,
        "identity": {"email": OWNER[2], "user_id": user_id,
                     "signature": identity.sign(IDENTITY_SECRET, user_id)}}).reference

    page.goto(wordpress.url + "/")
    button = launcher(page)
    expect(button).to_have_text(HOSTILE_LABEL)
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(10, 125, 50)"
    button.click()
    frame = page.frame_locator("#deskbell-panel")
    frame.locator("#q").fill("pallet freight to iceland")
    frame.locator("#nores").get_by_role("button", name="Contact us").click()
    expect(frame.get_by_label("Name")).to_have_value(QUOTED_NAME)
    expect(frame.get_by_label("Email")).to_have_value(OWNER[2])
    page.screenshot(path=artifact(f"wp-{wordpress.version}-front.png"))
    assert IDENTITY_SECRET not in page.content()
    frame.locator("#mine").click()
    expect(frame.locator("ul.links li")).to_have_text([f"Asked from my phone ({earlier})"])
    assert tab.dialogs == []

    # Not in wp-admin: the widget is for the public site.
    page.goto(wordpress.url + "/wp-admin/")
    expect(page.locator("#wpadminbar")).to_be_attached()
    assert page.locator("script[src*='/widget.js']").count() == 0


def test_visitor_searches_reads_and_opens_a_ticket(
    tab: Tab, wordpress: WordPress, deskbell: Deskbell
) -> None:
    wordpress.configure(server_url=deskbell.url, color="#7c2d12", label="Need help?")
    page = tab.page
    page.goto(wordpress.url + "/")
    button = launcher(page)
    expect(button).to_have_text("Need help?")
    button.click()
    frame = page.frame_locator("#deskbell-panel")
    expect(frame.locator("#q")).to_be_focused()

    frame.locator("#q").fill("refund")
    expect(frame.locator("#count")).to_have_text("1 article found")
    frame.get_by_role("option", name="Refunds and returns").click()
    expect(frame.get_by_role("heading", name="Refunds and returns")).to_be_focused()
    expect(frame.locator(".article")).to_contain_text("full refund")
    frame.get_by_role("button", name="Back").click()

    frame.locator("#q").fill("pallet freight to iceland")
    frame.locator("#nores").get_by_role("button", name="Contact us").click()
    frame.get_by_label("Name").fill("Grace Hopper")
    frame.get_by_label("Email").fill("grace@example.com")
    subject = frame.get_by_label("Subject")
    subject.fill("")
    type_like_a_person(subject, "Pallet to Iceland")
    type_like_a_person(frame.get_by_label("Message"), "Do you ship pallets to Reykjavik?")
    frame.get_by_role("button", name="Send request").click()
    expect(frame.get_by_role("heading", name="Request sent")).to_be_visible()
    reference = frame.locator("#ref").inner_text()

    stored = deskbell.app.state.services.tickets.get(reference)
    assert stored is not None
    assert (stored["name"], stored["email"], stored["subject"]) == (
        "Grace Hopper", "grace@example.com", "Pallet to Iceland")
    assert stored["page_url"] == wordpress.url + "/"
    trail = stored["trail"]
    # No article answers the pallet question; the closest one by meaning (shipping costs) is
    # listed, so the trail records it as one result that did not answer.
    assert [(s["q"], s["results"]) for s in trail["searches"]] == [
        ("refund", 1), ("pallet freight to iceland", 1)]
    assert [a["slug"] for a in trail["articles"]] == ["billing/refunds"]
    assert tab.dialogs == []


def test_search_page_works_without_javascript(no_js_tab: Tab, wordpress: WordPress,
                                              deskbell: Deskbell) -> None:
    wordpress.configure(server_url=deskbell.url)
    page = no_js_tab.page
    page.goto(wordpress.page_url("search"))
    field = page.get_by_role("searchbox", name="Search the help center")
    field.fill("password")
    field.press("Enter")
    expect(page.locator(".deskbell-search-count")).to_have_text("1 article found")
    result = page.locator(".deskbell-search-results").get_by_role("link", name="Reset your password")
    expect(result).to_have_attribute("href", deskbell.url + "/kb/account/reset-password")
    expect(page.locator(".deskbell-search-results mark").first).to_be_visible()
    assert f"page_id={wordpress.pages['search']}" in page.url
    expect(field).to_have_value("password")  # ready to refine


def test_hostile_article_titles_show_as_text_in_search(tab: Tab, wordpress: WordPress,
                                                       deskbell: Deskbell) -> None:
    wordpress.configure(server_url=deskbell.url)
    page = tab.page
    page.goto(wordpress.page_url("search", deskbell_q="hostile"))
    link = page.locator(".deskbell-search-results a").first
    expect(link).to_have_text('Hostile <script>alert("title")</script> article')
    assert page.locator(".deskbell-search-results script").count() == 0
    assert tab.dialogs == []


def php_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_search_block_is_offered_in_the_editor(tab: Tab, wordpress: WordPress,
                                               deskbell: Deskbell) -> None:
    wordpress.configure(server_url=deskbell.url)
    page = tab.page
    log_in(page, wordpress, "/wp-admin/post-new.php?post_type=page")
    page.wait_for_function("() => window.wp && wp.blocks && wp.blocks.getBlockType('deskbell/search')")
    assert page.evaluate("() => wp.blocks.getBlockType('deskbell/search').title") == "Deskbell search"
    page.evaluate("() => wp.data.dispatch('core/block-editor')"
                  ".insertBlocks(wp.blocks.createBlock('deskbell/search'))")
    # The preview is the server's own rendering (the editor canvas may be an iframe).
    page.wait_for_function(
        "() => [document, ...Array.from(document.querySelectorAll('iframe'), f => f.contentDocument)]"
        ".some(d => d && d.querySelector('.deskbell-search-form'))")
    assert tab.dialogs == []
