"""The widget's files: size budgets, complete catalogs, and no unsafe patterns.

Budgets are what a visitor downloads (the scripts as served, minified, then gzip, as served
compressed by any CDN or proxy): the loader runs on every page of a customer's site, so it
must stay tiny; the panel is loaded once per visit when the launcher is first used or the
browser is idle.
"""

from __future__ import annotations

import gzip
import json
import re

import pytest
from starlette.testclient import TestClient

from widget_server import resources

WIDGET = resources.widget_dir()
LOCALES = ("en", "es", "de", "fr", "pt", "it", "nl", "pl", "ar", "ja", "zh")
LOADER_BUDGET = 3 * 1024
# 15 KiB, plus 96 bytes for the owner's notice banner. Arabic, the largest catalog, measured
# 15,452 with it while panel.js was served as written; served minified, with signed identity,
# 13,803: that room pays for attachments instead of a larger budget.
PANEL_BUDGET = 15 * 1024 + 96


def gzipped_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9))


def test_loader_fits_its_budget(client: TestClient) -> None:
    size = gzipped_size(client.get("/widget.js").content)
    assert size <= LOADER_BUDGET, f"loader.js is {size} bytes gzipped (budget {LOADER_BUDGET})"


@pytest.mark.parametrize("locale", LOCALES)
def test_panel_fits_its_budget(client: TestClient, locale: str) -> None:
    page = client.get("/embed", params={"site": "default", "locale": locale})
    assert page.status_code == 200
    parts = [page.content, client.get("/widget/panel.js").content,
             client.get("/widget/panel.css").content]
    size = sum(gzipped_size(part) for part in parts)
    assert size <= PANEL_BUDGET, f"the panel is {size} bytes gzipped (budget {PANEL_BUDGET})"


def test_catalog_travels_as_letters_and_cannot_end_its_attribute(client: TestClient) -> None:
    page = client.get("/embed", params={"site": "default", "locale": "fr"}).text
    attribute = page.split("data-strings='", 1)[1].split("'", 1)[0]
    assert json.loads(attribute)["answer_read"] == "Lire l'article complet"
    assert "l\\u0027article" in attribute  # the quote is escaped, so the attribute goes on
    assert "Réponse" in attribute  # letters as they are: the page stays small in every language


def catalog(locale: str) -> dict[str, str]:
    return json.loads((WIDGET / "i18n" / f"{locale}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("locale", LOCALES[1:])
def test_every_catalog_translates_every_string(locale: str) -> None:
    assert tuple(sorted(LOCALES)) == tuple(sorted(p.stem for p in (WIDGET / "i18n").glob("*.json")))
    english, other = catalog("en"), catalog(locale)
    assert sorted(other) == sorted(english)
    for key, text in other.items():
        assert text.strip(), f"{locale}.json: {key} is empty"
        placeholders = set(re.findall(r"\{\w+\}", english[key]))
        assert set(re.findall(r"\{\w+\}", text)) == placeholders, f"{locale}.json: {key}"


def test_every_string_the_panel_asks_for_exists() -> None:
    source = (WIDGET / "panel.js").read_text(encoding="utf-8")
    template = (resources.TEMPLATES_DIR / "embed.html").read_text(encoding="utf-8")
    used = set(re.findall(r"\bt\('(\w+)'\s*[,)]", source))
    used |= set(re.findall(r"strings\.(\w+)", template))
    used |= {f"status_{s}" for s in ("new", "open", "pending", "solved", "closed")}
    used |= {f"why_{r}" for r in ("wrong", "outdated", "unanswered", "unclear", "other")}
    assert used - set(catalog("en")) == set()


@pytest.mark.parametrize("name", ["loader.js", "panel.js"])
def test_scripts_avoid_sinks_that_break_strict_pages(name: str) -> None:
    source = (WIDGET / name).read_text(encoding="utf-8")
    for pattern in (r"outerHTML", r"insertAdjacentHTML", r"document\.write", r"\beval\(",
                    r"new Function", r"setAttribute\(\s*'style'", r"\.cssText", r"'\*'\)"):
        assert not re.search(pattern, source), f"{name} uses {pattern}"
    if name == "loader.js":
        # The host page may enforce Trusted Types: no HTML parsing there at all.
        code = re.sub(r"/\*.*?\*/|//[^\n]*", "", source, flags=re.S)
        assert "innerHTML" not in code and "createElement('style')" not in code
    else:
        # The one innerHTML in the panel takes the server's sanitized article body.
        assert source.count("innerHTML") == 1 and "a.html" in source


def test_embed_has_no_inline_code_and_escapes_its_parameters(client: TestClient) -> None:
    hostile = '"><script>alert(1)</script>'
    page = client.get("/embed", params={"site": hostile, "locale": "ar", "mode": "neutral"})
    html = page.text
    assert "<script>alert(1)" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []  # no inline script
    assert "<style" not in html and " style=" not in html
    assert 'dir="rtl"' in html and 'lang="ar"' in html
    found = re.search(r"data-strings='([^']*)'", html)
    assert found is not None
    strings = json.loads(found.group(1))
    assert strings["close"] == catalog("ar")["close"]


def test_demo_host_page_renders_the_snippet_with_a_nonce(client: TestClient) -> None:
    templates = client.app.state.services.templates  # type: ignore[attr-defined]
    html = templates.get_template("demo_host.html").render(
        widget_url="http://127.0.0.1:8000/widget.js", site="default", mode="neutral",
        locale="", color="#1d4ed8", csp_nonce="abc123",
    )
    assert 'src="http://127.0.0.1:8000/widget.js" data-site="default"' in html
    assert html.count('nonce="abc123"') == 1
    assert 'data-locale' not in html.split("<script async")[1]  # the page's lang decides
