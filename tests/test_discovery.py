"""A help center search engines and assistants can find: /sitemap.xml, /robots.txt, /llms.txt,
/llms-full.txt and an article page's head (canonical link, Open Graph, JSON-LD). Each lists
exactly the articles /kb/ serves, never a draft, with untrusted text escaped for its format,
and never a URL taken from the request's Host header."""

from __future__ import annotations

import html
import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import markdown
import pytest
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.articles import article_path, load_kb
from widget_server.routes.discovery import article_head, faq_entries, public_base
from widget_server.search import reindex
from widget_server.settings import Settings

DOCUMENTS = ["/sitemap.xml", "/robots.txt", "/llms.txt", "/llms-full.txt"]
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
PUBLIC_URL = "https://help.example.com"
# Breaks out of a script element, a markdown link, a line and an XML text node, all at once.
HOSTILE_TITLE = ("Break </script><script>alert(1)</script> <!-- ]](https://attacker.example/t) "
                 "[x & y] <b>")
HOSTILE_SUMMARY = "Line one\n- [fake](https://attacker.example/s)\n## Fake category\n</script>"



def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def discovery_kb(kb_dir: Path) -> Path:
    """The fixture KB (with its draft, billing/upcoming-plan) plus a hostile article, an FAQ,
    an article that is almost one, and a second draft with words of its own."""
    write(kb_dir, "tricks/break-out.md",
          f"---\ntitle: {json.dumps(HOSTILE_TITLE)}\nsummary: {json.dumps(HOSTILE_SUMMARY)}\n"
          f"category: {json.dumps('Tricks ## <i>x</i>')}\ntags: [breakout]\nupdated: 2026-01-05\n"
          "---\nBody text.\n\n\\# Faked heading\n\n\\---\n\nURL: https://attacker.example/u\n")
    write(kb_dir, "help/faq.md",
          "---\ntitle: Frequently asked\nsummary: Short answers.\ncategory: Help\n---\n"
          "Intro line.\n\n## Can I pay by invoice?\n\nYes, for **yearly** plans.\n\n"
          "## Do you ship abroad?\n\nTo every EU country.\n")
    write(kb_dir, "help/almost-faq.md",
          "---\ntitle: Almost an FAQ\ncategory: Help\n---\nIntro.\n\n## Can I pay by card?\n\n"
          "Yes.\n\n## Prices\n\nSee the price list.\n")
    write(kb_dir, "help/qwertyplan.md",
          "---\ntitle: Zanzibar quarterly roadmap\ndraft: true\nsummary: Xylophone plans.\n---\n"
          "## Is it secret?\n\nQuokka.\n\n## Really?\n\nYes.\n")
    return kb_dir


@pytest.fixture
def make_client(make_settings: Callable[..., Settings],
                discovery_kb: Path) -> Iterator[Callable[..., TestClient]]:
    opened: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = make_settings(semantic=False, **overrides)
        reindex(Path(settings.kb_dir), settings.index_dir, semantic=False)
        client = TestClient(create_app(settings), follow_redirects=False)
        opened.append(client.__enter__())
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def settings_of(client: TestClient) -> Settings:
    return client.app.state.services.settings  # type: ignore[attr-defined,no-any-return]


def public_articles(client: TestClient) -> dict[str, dict[str, Any]]:
    catalog: dict[str, dict[str, Any]] = client.app.state.services.search.live_catalog  # type: ignore[attr-defined]
    return catalog


def urls_of(client: TestClient, slugs: Any) -> set[str]:
    base = public_base(settings_of(client))
    return {base + article_path(slug) for slug in slugs}


class Page(HTMLParser):
    """Every start tag with its attributes, and the text inside each script element."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data

    def meta(self) -> dict[str, str]:
        return {a["property"]: a["content"] for t, a in self.tags if t == "meta" and "property" in a}

    def canonical(self) -> list[str]:
        return [a["href"] for t, a in self.tags if t == "link" and a.get("rel") == "canonical"]


# ---------------------------------------------------------------- sitemap and robots


def test_sitemap_lists_exactly_the_articles_kb_serves(client: TestClient,
                                                       discovery_kb: Path) -> None:
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml"
    root = ET.fromstring(response.content)
    assert root.tag == f"{SITEMAP}urlset"
    entries = {u.findtext(f"{SITEMAP}loc"): u.findtext(f"{SITEMAP}lastmod")
               for u in root.findall(f"{SITEMAP}url")}
    published = {a.slug for a in load_kb(discovery_kb).public()}
    assert set(public_articles(client)) == published  # the index holds what /kb/ serves
    base = public_base(settings_of(client))
    assert set(entries) == {f"{base}/kb/"} | urls_of(client, published)
    assert len(root.findall(f"{SITEMAP}url")) == len(entries)  # each once
    assert base == "http://127.0.0.1:8000"  # no public_url: the address serve listens on
    assert entries[f"{base}/kb/account/reset-password"] == "2026-03-02"  # `updated`
    assert entries[f"{base}/kb/tricks/break-out"] == "2026-01-05"
    assert entries[f"{base}/kb/account/two-factor"] is None  # no `updated`, no lastmod
    for slug in published:
        assert client.get(article_path(slug)).status_code == 200, slug


def test_robots_allows_the_help_center_and_names_the_sitemap(
        make_client: Callable[..., TestClient]) -> None:
    response = make_client(public_url=PUBLIC_URL).get("/robots.txt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == (
        "User-agent: *\nAllow: /kb/\nDisallow: /admin\nDisallow: /api/\nDisallow: /embed\n"
        f"\nSitemap: {PUBLIC_URL}/sitemap.xml\n")


def test_public_url_starts_every_absolute_url(make_client: Callable[..., TestClient]) -> None:
    client = make_client(public_url=PUBLIC_URL + "/")  # the setting drops the slash
    root = ET.fromstring(client.get("/sitemap.xml").content)
    locs = [u.findtext(f"{SITEMAP}loc") or "" for u in root.findall(f"{SITEMAP}url")]
    assert locs and all(loc.startswith(f"{PUBLIC_URL}/kb/") for loc in locs)
    assert "http://127.0.0.1" not in client.get("/llms.txt").text
    lines = client.get("/llms-full.txt").text.splitlines()
    assert {lines[i + 1][5:] for i, line in enumerate(lines) if line.startswith("## ")} == \
        urls_of(client, public_articles(client))


@pytest.mark.parametrize("public_url", ["", PUBLIC_URL])
def test_a_forged_host_never_reaches_a_url(make_client: Callable[..., TestClient],
                                           public_url: str) -> None:
    client = make_client(public_url=public_url)
    for path in [*DOCUMENTS, "/kb/account/reset-password", "/kb/help/faq"]:
        response = client.get(path, headers={"host": "evil.example"})
        assert response.status_code == 200, path
        assert "evil.example" not in response.text, path
    payload = client.get("/api/v1/articles/help/faq", headers={"host": "evil.example"}).json()
    assert "evil.example" not in str(article_head(settings_of(client), payload))


# ---------------------------------------------------------------- llms.txt


def test_llms_txt_links_every_public_article_by_category(client: TestClient) -> None:
    response = client.get("/llms.txt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    text = response.text
    assert text.startswith("# Help Center\n\n> Answers from the Help Center knowledge base: "
                           f"{len(public_articles(client))} articles in 5 categories.\n")
    page = Page(markdown.markdown(text))
    links = [a["href"] for tag, a in page.tags if tag == "a"]
    base = public_base(settings_of(client))
    articles = [link for link in links if link.startswith(f"{base}/kb/") and link != f"{base}/kb/"]
    assert sorted(articles) == sorted(urls_of(client, public_articles(client)))  # each once
    assert set(links) - set(articles) == {f"{base}/kb/", f"{base}/llms-full.txt"}
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["Account", "Billing", "Edge cases", "Help", r"Tricks \#\# \<i\>x\</i\>"]
    assert "- [Refunds and returns](http://127.0.0.1:8000/kb/billing/refunds): How to ask " \
           "for your money back within 30 days.\n" in text
    assert "- [Shipping costs](http://127.0.0.1:8000/kb/billing/shipping-costs)\n" in text


def test_llms_txt_keeps_hostile_text_as_text(client: TestClient) -> None:
    text = client.get("/llms.txt").text
    rendered = markdown.markdown(text)
    page = Page(rendered)
    assert {tag for tag, _ in page.tags} <= {"h1", "h2", "p", "blockquote", "ul", "li", "a"}
    assert not [a for tag, a in page.tags if tag == "a" and "attacker" in a.get("href", "")]
    line = next(line for line in text.splitlines() if "tricks/break-out" in line)
    assert line.startswith("- [Break \\<")  # the whole entry is one line, markup escaped
    assert "Line one - \\[fake\\](https://attacker.example/s) \\#\\# Fake category" in line
    # Rendered, the link reads as the title as written, and the summary as plain text.
    # (Python-Markdown shows the backslash of a \< where CommonMark drops it: text either way.)
    link = re.search(r'<a href="[^"]*/kb/tricks/break-out">(.*?)</a>: (.*?)</li>', rendered)
    assert link
    assert html.unescape(link.group(1)).replace("\\<", "<") == HOSTILE_TITLE
    assert html.unescape(link.group(2)).replace("\\<", "<") == " ".join(HOSTILE_SUMMARY.split())


# ---------------------------------------------------------------- llms-full.txt


def test_llms_full_has_every_public_article_title_url_and_text(client: TestClient) -> None:
    response = client.get("/llms-full.txt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    articles = response.text.split("\n\n---\n\n")[1:]
    catalog = public_articles(client)
    assert len(articles) == len(catalog)
    by_url = {a.splitlines()[1][len("URL: "):]: a for a in articles}
    assert set(by_url) == urls_of(client, catalog)
    refunds = by_url["http://127.0.0.1:8000/kb/billing/refunds"]
    assert refunds.startswith("## Refunds and returns\nURL: http://127.0.0.1:8000/kb/billing/"
                              "refunds\nCategory: Billing\nSummary: How to ask for your money "
                              "back within 30 days.\n\nYou can return an order within 30 days")
    faq = by_url["http://127.0.0.1:8000/kb/help/faq"]
    assert "\n\n### Can I pay by invoice?\nYes, for yearly plans.\n\n### Do you ship abroad?\n" \
        in faq


def test_llms_full_article_text_cannot_pass_for_another_article(client: TestClient) -> None:
    text = client.get("/llms-full.txt").text
    lines = text.splitlines()
    # Our own structure only: one "## " title per article, each followed by its URL line.
    titles = [i for i, line in enumerate(lines) if line.startswith("## ")]
    assert len(titles) == len(public_articles(client))
    assert all(lines[i + 1].startswith("URL: http://127.0.0.1:8000/kb/") for i in titles)
    assert lines.count("---") == len(titles)
    hostile = text.split("URL: http://127.0.0.1:8000/kb/tricks/break-out")[1].split("\n---\n")[0]
    assert "\n\\# Faked heading\n" in hostile and "\n\\---\n" in hostile
    assert "Summary: Line one - [fake](https://attacker.example/s) ## Fake category </script>" \
        in hostile  # one line: plain text, shown as written


# ---------------------------------------------------------------- drafts


def test_no_draft_appears_in_any_document(make_client: Callable[..., TestClient]) -> None:
    client = make_client(public_url=PUBLIC_URL)
    secrets = ["upcoming-plan", "Secret upcoming", "platinum", "qwertyplan", "Zanzibar",
               "Xylophone", "Quokka"]
    pages = [*DOCUMENTS, "/kb/", "/kb/help/faq", "/kb/account/reset-password"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        for secret in secrets:
            assert secret.lower() not in response.text.lower(), (path, secret)
    for draft in ["/kb/billing/upcoming-plan", "/kb/help/qwertyplan"]:
        assert client.get(draft).status_code == 404


def test_documents_follow_a_reindex(client: TestClient, discovery_kb: Path) -> None:
    before = client.get("/sitemap.xml").text
    assert "/kb/help/new-one" not in before
    write(discovery_kb, "help/new-one.md", "---\ntitle: A new one\n---\nFresh text.\n")
    settings = settings_of(client)
    reindex(Path(settings.kb_dir), settings.index_dir, semantic=False)
    deadline = time.monotonic() + 15
    while "/kb/help/new-one" not in client.get("/sitemap.xml").text:
        assert time.monotonic() < deadline, "the sitemap never showed the new generation"
        time.sleep(0.2)
    assert "A new one" in client.get("/llms.txt").text
    assert "Fresh text." in client.get("/llms-full.txt").text


def test_documents_need_an_index(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(semantic=False))) as client:
        assert client.get("/sitemap.xml").status_code == 503
        assert client.get("/llms.txt").status_code == 503
        assert client.get("/robots.txt").status_code == 200  # robots needs no index


# ---------------------------------------------------------------- an article page's head


def test_faq_rule_every_heading_a_question() -> None:
    def html(body: str) -> str:
        return markdown.markdown(body, extensions=["toc"])

    assert faq_entries(html("Intro.\n\n## Can I?\n\nYes.\n\n## Must I？\n\nNo.\n")) == [
        ("Can I?", "Yes."), ("Must I？", "No.")]
    assert faq_entries(html("## هل يمكنني الدفع؟\n\nنعم.\n\n## Why?\n\nBecause.\n")) != []
    assert faq_entries(html("## Can I?\n\nYes.\n\n## Prices\n\nSee list.\n")) == []
    assert faq_entries(html("## Only one?\n\nYes.\n")) == []  # one question is not a list
    assert faq_entries(html("No headings at all. Is it?\n")) == []
    # A heading with no text of its own groups questions; it is not one.
    assert faq_entries(html("## Billing\n\n### Can I?\n\nYes.\n\n### May I?\n\nNo.\n")) == [
        ("Can I?", "Yes."), ("May I?", "No.")]


def rendered_article(client: TestClient, slug: str) -> str:
    """kb/article.html as routes/pages.py renders it once it passes `head`."""
    payload = client.get(f"/api/v1/articles/{slug}").json()
    template = client.app.state.services.templates.get_template("kb/article.html")  # type: ignore[attr-defined]
    head = article_head(settings_of(client), payload)
    html: str = template.render(request=SimpleNamespace(app=client.app), article=payload,
                                head=head)
    return html


def structured(html: str) -> dict[str, Any]:
    page = Page(html)
    scripts = [a for tag, a in page.tags if tag == "script"]
    assert scripts == [{"type": "application/ld+json"}]  # the one script: data, never run
    data: dict[str, Any] = json.loads(page.scripts[0])
    return data


def test_json_ld_keeps_a_hostile_title_inside_its_element(client: TestClient) -> None:
    html = rendered_article(client, "tricks/break-out")
    data = structured(html)
    article = data["@graph"][0]
    assert (article["headline"], article["description"]) == (HOSTILE_TITLE, HOSTILE_SUMMARY)
    block = html.split('<script type="application/ld+json">')[1].split("</script>")[0]
    assert "<" not in block and ">" not in block and "&" not in block.replace("\\u0026", "")
    page = Page(html)
    assert page.meta()["og:title"] == HOSTILE_TITLE  # attributes: escaped by Jinja
    assert page.meta()["og:description"] == HOSTILE_SUMMARY
    assert not [t for t, _ in page.tags if t in {"iframe", "object", "embed", "b", "i"}]


def test_article_head_has_canonical_open_graph_and_article_data(client: TestClient) -> None:
    html = rendered_article(client, "account/reset-password")
    page = Page(html)
    url = "http://127.0.0.1:8000/kb/account/reset-password"
    assert page.canonical() == [url]
    assert page.meta() == {
        "og:type": "article", "og:title": "Reset your password",
        "og:description": "Get a reset link by email when you forgot your password.",
        "og:url": url, "og:site_name": "Help Center", "article:modified_time": "2026-03-02"}
    data = structured(html)
    assert data["@context"] == "https://schema.org"
    assert data["@graph"] == [{
        "@type": "Article", "headline": "Reset your password", "url": url,
        "mainEntityOfPage": url, "inLanguage": "en", "dateModified": "2026-03-02",
        "description": "Get a reset link by email when you forgot your password.",
        "articleSection": "Account", "keywords": "password, login, sign in",
        "isPartOf": {"@type": "WebSite", "name": "Help Center",
                     "url": "http://127.0.0.1:8000/kb/"},
        "publisher": {"@type": "Organization", "name": "Help Center"}}]


def test_an_faq_article_is_also_an_faq_page(client: TestClient) -> None:
    graph = structured(rendered_article(client, "help/faq"))["@graph"]
    assert [item["@type"] for item in graph] == ["Article", "FAQPage"]
    assert graph[1]["mainEntity"] == [
        {"@type": "Question", "name": "Can I pay by invoice?",
         "acceptedAnswer": {"@type": "Answer", "text": "Yes, for yearly plans."}},
        {"@type": "Question", "name": "Do you ship abroad?",
         "acceptedAnswer": {"@type": "Answer", "text": "To every EU country."}}]
    almost = structured(rendered_article(client, "help/almost-faq"))["@graph"]
    assert [item["@type"] for item in almost] == ["Article"]


def test_article_pages_carry_the_head(make_client: Callable[..., TestClient]) -> None:
    client = make_client(public_url=PUBLIC_URL)
    page = client.get("/kb/account/reset-password")
    assert page.status_code == 200
    parsed = Page(page.text)
    assert parsed.canonical() == [f"{PUBLIC_URL}/kb/account/reset-password"]
    assert parsed.meta()["og:url"] == f"{PUBLIC_URL}/kb/account/reset-password"
    assert structured(page.text)["@graph"][0]["headline"] == "Reset your password"
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    # An alias redirects; the page it leads to names its own slug as canonical.
    moved = client.get("/kb/old/forgot-password")
    assert (moved.status_code, moved.headers["location"]) == (301, "/kb/account/reset-password")
    faq = client.get("/kb/help/faq").text
    assert [item["@type"] for item in structured(faq)["@graph"]] == ["Article", "FAQPage"]
    hostile = client.get("/kb/tricks/break-out").text
    assert structured(hostile)["@graph"][0]["headline"] == HOSTILE_TITLE
