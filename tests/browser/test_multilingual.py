"""A site in English, Spanish, German and Arabic, end to end in Chromium.

The knowledge base is tests/data/multilingual with locale folders: the Spanish visitor reads
the Spanish article and is offered the others ("También en English, Deutsch, العربية"), an
article nobody translated falls back to English and says so, the Arabic panel is right to
left and passes axe, and a Spanish search with a typo finds the Spanish article.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import (
    REPO,
    HostPages,
    HostSite,
    LiveServer,
    _serve_kb,
    launcher,
    open_widget,
    panel,
)
from .test_accessibility import axe, embed_frame

MULTILINGUAL_KB = REPO / "tests" / "data" / "multilingual"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def multilingual_server(tmp_path_factory: pytest.TempPathFactory,
                        host_pages: HostPages) -> Iterator[LiveServer]:
    yield from _serve_kb(MULTILINGUAL_KB, tmp_path_factory.mktemp("deskbell-multilingual"),
                         host_pages, locale_folders="true")


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    # axe is injected as an inline script, which the panel's own CSP rightly refuses.
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    ctx.set_default_timeout(15000)
    yield ctx
    ctx.close()


@pytest.fixture
def site(host_pages: HostPages, multilingual_server: LiveServer) -> HostSite:
    host_pages.pages.clear()
    return HostSite(multilingual_server, host_pages)


def test_a_spanish_visitor_reads_spanish_and_is_offered_the_other_languages(
        page: Any, site: HostSite) -> None:
    frame = open_widget(page, site.add("/tienda", site.snippet(), lang="es"))
    expect(frame.locator("html")).to_have_attribute("lang", "es")
    expect(frame.locator("#db-title")).to_have_text("¿Cómo podemos ayudarte?")

    # Suggestions: the Spanish articles, and the one nobody translated in English, marked.
    options = frame.get_by_role("option")
    expect(options.filter(has_text="Reembolsos y devoluciones")).to_have_count(1)
    expect(options.filter(has_text="Refunds and returns")).to_have_count(0)
    untranslated = options.filter(has_text="Delete your account")
    expect(untranslated).to_contain_text("(English)")
    expect(untranslated).to_have_attribute("lang", "en")

    # The Spanish article, with its translations offered by their own names.
    options.filter(has_text="Reembolsos y devoluciones").click()
    view = frame.locator("#v-page")
    expect(view.locator("h2").first).to_have_text("Reembolsos y devoluciones")
    offered = view.locator(".langs")
    expect(offered).to_contain_text("También en")
    expect(offered.get_by_role("button")).to_have_text(["العربية", "Deutsch", "English"])
    expect(view.get_by_text("Aún no está traducido")).to_have_count(0)

    # The visitor chooses English: it stays English (no bounce back to Spanish).
    offered.get_by_role("button", name="English").click()
    expect(view.locator("h2").first).to_have_text("Refunds and returns")
    expect(view.locator(".article")).to_have_attribute("lang", "en")
    expect(view.locator(".langs").get_by_role("button", name="Español")).to_be_visible()

    # An untranslated topic: English, and the panel says it is not in Spanish yet.
    frame.locator("#back").click()
    frame.get_by_role("option").filter(has_text="Delete your account").click()
    expect(view.locator("h2").first).to_have_text("Delete your account")
    expect(view.get_by_text("Aún no está traducido a tu idioma.")).to_be_visible()
    expect(view.locator(".langs")).to_have_count(0)


def test_an_english_link_opens_in_spanish_for_a_spanish_visitor(page: Any,
                                                                 site: HostSite) -> None:
    head = ('<script>window.Deskbell = window.Deskbell || function () {'
            ' (Deskbell.q = Deskbell.q || []).push(arguments) };'
            " Deskbell('article', 'billing/refunds');</script>")
    page.goto(site.add("/tienda", site.snippet(), lang="es", head=head))
    view = panel(page).locator("#v-page")  # the call opens the panel on the article
    expect(view.locator("h2").first).to_have_text("Reembolsos y devoluciones")
    expect(view.locator(".langs").get_by_role("button", name="English")).to_be_visible()


def test_a_spanish_search_with_a_typo_finds_the_spanish_article(page: Any,
                                                                site: HostSite) -> None:
    frame = open_widget(page, site.add("/tienda", site.snippet(), lang="es"))
    frame.locator("#q").fill("reembolzo")
    results = frame.locator("#results")
    expect(results.get_by_role("option").first).to_contain_text("Reembolsos y devoluciones")
    expect(results).not_to_contain_text("Refunds and returns")


def test_the_arabic_panel_is_right_to_left_and_passes_axe(page: Any, site: HostSite) -> None:
    frame = open_widget(page, site.add("/ar/shop", site.snippet(), lang="ar"))
    expect(frame.locator("html")).to_have_attribute("dir", "rtl")
    expect(frame.locator("html")).to_have_attribute("lang", "ar")
    # The launcher moves to the left, mirrored for a right-to-left page.
    box = launcher(page).bounding_box()
    assert box is not None and box["x"] < 640
    embed = embed_frame(page)
    expect(frame.get_by_role("option").first).to_be_visible()
    assert axe(embed, "body") == [], "Arabic suggestions"

    frame.get_by_role("option").filter(has_text="استرداد الأموال والإرجاع").click()
    view = frame.locator("#v-page")
    expect(view.locator("h2").first).to_have_text("استرداد الأموال والإرجاع")
    expect(view.locator(".langs")).to_contain_text("متوفر أيضًا بـ")
    assert axe(embed, "body") == [], "Arabic article"
    direction = embed.evaluate("getComputedStyle(document.querySelector('.article')).direction")
    assert direction == "rtl"
