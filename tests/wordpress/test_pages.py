"""What WordPress prints: the loader tag, shortcodes and the block, as visitors receive them."""

from __future__ import annotations

import re

from .conftest import Deskbell, WordPress

LOADER = re.compile(r"<script\b[^>]*/widget\.js[^>]*>")


def loader_tag(html: str) -> str | None:
    found = LOADER.search(html)
    return found.group(0) if found else None


def test_no_widget_until_the_owner_sets_a_server(wordpress: WordPress) -> None:
    wordpress.run_php("delete_option('deskbell_settings');")
    assert loader_tag(wordpress.fetch(wordpress.url + "/")) is None


def test_loader_is_async_with_escaped_options(wordpress: WordPress, deskbell: Deskbell) -> None:
    wordpress.configure(server_url=deskbell.url, color="#0a7d32", position="left",
                        label='Ask "us" <now> & $0', locale="de", mode="ask-first")
    html = wordpress.fetch(wordpress.url + "/")
    tag = loader_tag(html)
    assert tag is not None
    assert f"src='{deskbell.url}/widget.js'" in tag or f'src="{deskbell.url}/widget.js"' in tag
    assert re.search(r"\sasync\b", tag)
    for attribute in ('data-site="default"', 'data-color="#0a7d32"', 'data-position="left"',
                      'data-label="Ask &quot;us&quot; &lt;now&gt; &amp; $0"',
                      'data-locale="de"', 'data-mode="ask-first"'):
        assert attribute in tag
    assert "Deskbell('identify'" not in html  # no inline script unless identify is on


def test_widget_only_on_chosen_post_types(wordpress: WordPress, deskbell: Deskbell) -> None:
    wordpress.configure(server_url=deskbell.url, scope="types", post_types=["page"])
    assert loader_tag(wordpress.fetch(wordpress.url + "/")) is None  # the blog index
    assert loader_tag(wordpress.fetch(wordpress.page_url("search"))) is not None


def test_search_shortcode_renders_results_from_deskbell(wordpress: WordPress,
                                                        deskbell: Deskbell) -> None:
    wordpress.configure(server_url=deskbell.url)
    html = wordpress.fetch(wordpress.page_url("search", deskbell_q="refund"))
    assert "1 article found" in html
    assert f'<a href="{deskbell.url}/kb/billing/refunds">Refunds and returns</a>' in html
    assert "<mark>refund</mark>" in html
    # The form keeps ?page_id= so searching again stays on this page without permalinks.
    assert f'name="page_id" value="{wordpress.pages["search"]}"' in html


def test_block_renders_like_the_shortcode(wordpress: WordPress, deskbell: Deskbell) -> None:
    wordpress.configure(server_url=deskbell.url)
    html = wordpress.fetch(wordpress.page_url("block", deskbell_q="password"))
    assert "Reset your password" in html
    assert 'class="deskbell-search-form"' in html


def test_search_when_deskbell_is_down_says_so(wordpress: WordPress) -> None:
    wordpress.configure(server_url="http://127.0.0.1:9")
    html = wordpress.fetch(wordpress.page_url("search", deskbell_q="refund"))
    assert "Search is unavailable right now." in html
    assert 'href="http://127.0.0.1:9/kb/search?q=refund"' in html
    assert "Deskbell:" not in html  # the reason is for editors only


def test_article_shortcode_embeds_the_article(wordpress: WordPress, deskbell: Deskbell) -> None:
    wordpress.configure(server_url=deskbell.url)
    html = wordpress.fetch(wordpress.page_url("article"))
    assert "<h2>Refunds and returns</h2>" in html
    assert "within 30 days of delivery for a full refund" in html
    assert f'<a href="{deskbell.url}/kb/billing/refunds">Read the full article</a>' in html


def test_missing_article_is_invisible_to_visitors_explained_to_editors(
    wordpress: WordPress, deskbell: Deskbell
) -> None:
    wordpress.configure(server_url=deskbell.url)
    html = wordpress.fetch(wordpress.page_url("missing"))
    assert "deskbell-notice" not in html and "deskbell-article" not in html
    as_editor = wordpress.run_php(
        "wp_set_current_user(1);"
        "echo do_shortcode('[deskbell_article slug=\"billing/no-such-article\"]');")
    assert "Deskbell:" in as_editor and "HTTP 404" in as_editor


def test_hostile_article_is_sanitized_again_in_wordpress(wordpress: WordPress,
                                                         deskbell: Deskbell) -> None:
    wordpress.configure(server_url=deskbell.url)
    html = wordpress.run_php("echo do_shortcode('[deskbell_article slug=\"hostile/hostile-markup\"]');")
    assert "Paragraph with handlers" in html
    lowered = html.lower()
    for bad in ("<script", "<iframe", "onerror", "onclick", "javascript:", "<style"):
        assert bad not in lowered
    assert "&lt;script&gt;" in html  # the hostile title is shown as text


def test_uninstall_removes_settings_and_cached_articles(wordpress: WordPress,
                                                        deskbell: Deskbell) -> None:
    wordpress.configure(server_url=deskbell.url)
    wordpress.fetch(wordpress.page_url("article"))  # caches the article in a transient
    left = wordpress.run_php(
        "require_once ABSPATH . 'wp-admin/includes/plugin.php';"
        "uninstall_plugin('deskbell/deskbell.php');"
        "global $wpdb;"
        "echo $wpdb->get_var(\"SELECT COUNT(*) FROM {$wpdb->options} "
        "WHERE option_name LIKE '%deskbell%'\");")
    assert left.strip() == "0"
    assert not [line for line in wordpress.debug_log() if "deskbell" in line.lower()]
