"""Public help-center pages: server-rendered, escaped, no inline script, redirects for aliases."""

from __future__ import annotations

from html.parser import HTMLParser

from starlette.testclient import TestClient


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.tags


def assert_no_injection(html: str) -> None:
    for tag, attrs in elements(html):
        if tag == "script" and attrs == {"type": "application/ld+json"}:
            continue  # the page's JSON-LD: data, never run (tests/test_discovery.py)
        assert tag not in {"script", "iframe", "style", "object", "embed", "svg", "math"}, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name != "style", tag
            if name in {"href", "src"} and value:
                assert not value.strip().lower().startswith(("javascript:", "data:")), value


def test_index_lists_categories_without_drafts(client: TestClient) -> None:
    page = client.get("/kb/")
    assert page.status_code == 200
    assert "Reset your password" in page.text and "Billing" in page.text
    assert "Secret upcoming" not in page.text
    assert "unsafe-inline" not in page.headers["content-security-policy"]


def test_article_page_has_breadcrumbs_and_related(client: TestClient) -> None:
    page = client.get("/kb/account/reset-password")
    assert page.status_code == 200
    assert 'aria-label="Breadcrumb"' in page.text
    assert 'href="/kb/account/two-factor"' in page.text


def test_hostile_article_is_safe_on_every_page(client: TestClient) -> None:
    for url in ("/kb/", "/kb/hostile/hostile-markup", "/kb/search?q=hostile+paragraph"):
        page = client.get(url)
        assert page.status_code == 200
        assert_no_injection(page.text)
        assert "&lt;script&gt;" in page.text  # the title's markup shows as text


def test_search_page_is_shareable_and_escapes_query(client: TestClient) -> None:
    page = client.get("/kb/search", params={"q": '<img src=x onerror=alert(1)> refund'})
    assert page.status_code == 200
    assert_no_injection(page.text)
    assert "Refunds and returns" in page.text


def test_alias_redirects_permanently(client: TestClient) -> None:
    response = client.get("/kb/old/forgot-password", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/kb/account/reset-password"


def test_missing_page_is_plain_404_page(client: TestClient) -> None:
    response = client.get("/kb/no/such/article")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Page not found" in response.text


def test_templates_have_no_inline_script_or_style() -> None:
    from widget_server.resources import TEMPLATES_DIR

    for template in TEMPLATES_DIR.rglob("*.html"):
        for tag, attrs in elements(template.read_text()):
            assert tag != "style", template
            assert "style" not in attrs, template
            assert not any(n.startswith("on") for n in attrs), template
            if tag == "script":
                assert attrs.get("src") or attrs.get("type") == "application/json", template


def test_links_built_without_a_request_match_the_article_route(client: TestClient) -> None:
    # Search hits, the API and the CLI link articles with article_path(); the page itself
    # is the kb_article route. If either moves, the other must follow.
    from widget_server.articles import article_path

    hit = client.get("/api/v1/search", params={"q": "password"}).json()["results"][0]
    route = client.app.url_path_for("kb_article", slug=hit["slug"])  # type: ignore[attr-defined]
    assert hit["url"] == article_path(hit["slug"]) == str(route)
    assert client.get(hit["url"]).status_code == 200
    assert article_path("guides/a b") == "/kb/guides/a%20b"
