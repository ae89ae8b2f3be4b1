"""What search engines and assistants read: /sitemap.xml, /robots.txt, /llms.txt and
/llms-full.txt, and the head of an article page (canonical link, Open Graph, JSON-LD).

Each lists exactly the articles the help center serves at /kb/: the live index generation's
catalog, which never holds a draft. Absolute URLs start with `public_url`; without it, with
the address `deskbell serve` listens on, as emails do. Never with the request's Host header:
anyone can send any Host, and a cache in front would keep a sitemap naming the sender's site.

Article text is untrusted and each format escapes it its own way: XML by ElementTree, the
markdown of llms.txt with backslashes and on one line, the plain text of llms-full.txt with
no line that could pass for the start of another article, JSON-LD with every `<`, `>` and `&`
as a JSON escape so nothing in it can close the script element it sits in.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
import weakref
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..articles import KB_PREFIX, article_path
from ..i18n import language_name
from ..search.generation import Generation
from ..search.sections import split_sections
from ..services import services
from ..settings import Settings
from .common import search_service

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
XHTML_NS = "http://www.w3.org/1999/xhtml"
# A heading ending in one of these is a question (the Latin, full-width and Arabic marks).
QUESTION_MARKS = ("?", "\uff1f", "\u061f")


def public_base(settings: Settings) -> str:
    """Where this help center is reached from outside, without a trailing slash."""
    if settings.public_url:
        return str(settings.public_url)
    host = str(settings.host)
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"


def absolute(settings: Settings, path: str) -> str:
    return public_base(settings) + path


# ---------------------------------------------------------------- languages

_LOCALES: dict[str, Any] = {}


def site_locales(catalog: dict[str, dict[str, Any]], default: str) -> list[str]:
    """The languages the help center has articles in, the default first (always there)."""
    if _LOCALES.get("catalog") is catalog and _LOCALES.get("default") == default:
        return list(_LOCALES["locales"])
    found = sorted({str(meta.get("locale") or default) for meta in catalog.values()} - {default})
    _LOCALES.update(catalog=catalog, default=default, locales=[default, *found])
    return [default, *found]


def locale_home(locale: str, default: str) -> str:
    """The help center's front page in `locale`: /kb/ for the default, /kb/<locale>/ else."""
    return KB_PREFIX if locale == default else f"{KB_PREFIX}{quote(locale)}/"


def versions(meta: dict[str, Any]) -> dict[str, str]:
    """{locale: slug} of an article and its translations."""
    return {**meta.get("translations", {}), str(meta.get("locale") or ""): meta["slug"]}


# ---------------------------------------------------------------- one copy per generation

# Built once per index generation and forgotten with it. Only the search thread touches it.
_BUILT: weakref.WeakKeyDictionary[Generation, dict[str, str | bytes]] = (
    weakref.WeakKeyDictionary())


async def _built(request: Request, name: str,
                 build: Callable[[Settings, Generation | None], str | bytes]) -> str | bytes:
    """The document `name` for the generation serving now, built on the search thread (the
    full export reads every stored article, which belongs to that thread)."""
    service = search_service(request)
    settings = services(request).settings

    def cached() -> str | bytes:
        generation = service.generation
        if generation is None:
            return build(settings, None)
        made = _BUILT.setdefault(generation, {})
        if name not in made:
            made[name] = build(settings, generation)
        return made[name]

    return await service.call(cached)


def _articles(generation: Generation | None) -> list[dict[str, Any]]:
    catalog = generation.catalog if generation else {}
    return sorted(catalog.values(), key=lambda meta: meta["slug"])


def _by_category(generation: Generation | None,
                 default_locale: str = "") -> list[tuple[str, list[dict[str, Any]]]]:
    """Articles grouped as the /kb/ page groups them. With `default_locale`, a site in
    several languages lists its default language's categories first, then each other
    language's, named with it: "Cuenta (Español)"."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for meta in _articles(generation):
        locale = str(meta.get("locale") or default_locale) if default_locale else ""
        groups[(locale, meta["category"] or "General")].append(meta)
    several = len({locale for locale, _ in groups}) > 1

    def order(key: tuple[str, str]) -> tuple[bool, str, str]:
        return (key[0] != default_locale, key[0], key[1].lower())

    return [(f"{name} ({language_name(locale)})" if several and locale != default_locale
             else name, sorted(items, key=lambda m: (m["title"].lower(), m["slug"])))
            for (locale, name), items in sorted(groups.items(), key=lambda kv: order(kv[0]))]


def _iso_date(value: Any) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat() if value else ""
    except ValueError:
        return ""


# ---------------------------------------------------------------- sitemap and robots


def hreflang_links(paths: dict[str, str], default: str) -> list[tuple[str, str]]:
    """(hreflang, path) alternates of one page ({locale: path} of its versions): every
    language's version, itself included, and x-default (the default language's), as search
    engines want them on each; none for a page in one language."""
    if len(paths) < 2:
        return []
    links = sorted(paths.items())
    if default in paths:
        links.append(("x-default", paths[default]))
    return links


def _alternates(url: ET.Element, settings: Settings, paths: dict[str, str],
                default: str) -> None:
    """xhtml:link alternates of one URL in the sitemap."""
    for hreflang, path in hreflang_links(paths, default):
        ET.SubElement(url, "xhtml:link", rel="alternate", hreflang=hreflang,
                      href=absolute(settings, path))


def sitemap_xml(settings: Settings, generation: Generation | None) -> bytes:
    """Every article and each language's front page, with hreflang alternates between an
    article's translations (one sitemap: xhtml:link, as search engines document it)."""
    default = settings.default_locale
    articles = _articles(generation)
    locales = site_locales(generation.catalog if generation else {}, default)
    urlset = ET.Element("urlset", {"xmlns": SITEMAP_NS, **(
        {"xmlns:xhtml": XHTML_NS} if len(locales) > 1 else {})})
    homes = {loc: locale_home(loc, default) for loc in locales}
    for path in homes.values():
        home = ET.SubElement(urlset, "url")
        ET.SubElement(home, "loc").text = absolute(settings, path)
        _alternates(home, settings, homes, default)
    for meta in articles:
        url = ET.SubElement(urlset, "url")
        ET.SubElement(url, "loc").text = absolute(settings, article_path(meta["slug"]))
        if lastmod := _iso_date(meta.get("updated")):
            ET.SubElement(url, "lastmod").text = lastmod
        _alternates(url, settings, {loc: article_path(slug)
                                    for loc, slug in versions(meta).items()}, default)
    xml = ET.tostring(urlset, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{xml}\n'.encode()


async def sitemap(request: Request) -> Response:
    body = await _built(request, "sitemap.xml", sitemap_xml)
    return Response(body, media_type="application/xml")


async def robots(request: Request) -> Response:
    settings = services(request).settings
    return PlainTextResponse(
        "User-agent: *\n"
        f"Allow: {KB_PREFIX}\n"
        "Disallow: /admin\n"
        "Disallow: /api/\n"
        "Disallow: /embed\n"
        "\n"
        f"Sitemap: {absolute(settings, '/sitemap.xml')}\n")


# ---------------------------------------------------------------- llms.txt

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#!|])")


def _one_line(text: str) -> str:
    """Text with no control character and no line break of any kind."""
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in str(text))
    return " ".join(text.split())


def _markdown_text(text: str) -> str:
    """Untrusted text as literal markdown text: one line, every markup character escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _one_line(text))


def _markdown_url(url: str) -> str:
    return quote(url, safe=":/?#@!$&'*+,;=%~")


def _overview(settings: Settings, generation: Generation | None) -> str:
    articles = len(_articles(generation))
    categories = len(_by_category(generation))
    return _one_line(
        f"Answers from the {settings.site_name} knowledge base: {articles} "
        f"article{'' if articles == 1 else 's'} in {categories} "
        f"categor{'y' if categories == 1 else 'ies'}.")


def llms_txt(settings: Settings, generation: Generation | None) -> str:
    full = _markdown_url(absolute(settings, "/llms-full.txt"))
    help_center = _markdown_url(absolute(settings, KB_PREFIX))
    lines = [
        f"# {_markdown_text(settings.site_name)}", "",
        f"> {_markdown_text(_overview(settings, generation))}", "",
        f"Each article below is a web page of the [help center]({help_center}); the text of "
        f"all of them is in one plain-text file, [llms-full.txt]({full}).",
    ]
    for category, items in _by_category(generation, settings.default_locale):
        lines += ["", f"## {_markdown_text(category)}", ""]
        for meta in items:
            link = (f"- [{_markdown_text(meta['title'])}]"
                    f"({_markdown_url(absolute(settings, article_path(meta['slug'])))})")
            summary = _markdown_text(meta["summary"])
            lines.append(f"{link}: {summary}" if summary else link)
    return "\n".join(lines) + "\n"


# A body line that starts like one of the export's own lines is shown with a backslash.
_STRUCTURE = re.compile(r"^(?=#|-{3,}\s*$)")


def _plain_text(text: str) -> str:
    """Untrusted article text for the plain-text export: lines kept, other control
    characters dropped, and no line that could pass for a heading or separator of ours."""
    lines = []
    for line in str(text).split("\n"):
        clean = "".join(c for c in line if c == "\t" or unicodedata.category(c) != "Cc")
        lines.append(_STRUCTURE.sub("\\\\", clean.strip()))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _article_text(html: str) -> str:
    """An article as plain text, section by section, each heading as a ### line."""
    blocks = []
    for section in split_sections(html):
        text = _plain_text(section.text)
        blocks.append(f"### {_one_line(section.heading)}\n{text}" if section.heading else text)
    return "\n\n".join(block for block in blocks if block)


def llms_full_txt(settings: Settings, generation: Generation | None) -> str:
    parts = [
        f"# {_one_line(settings.site_name)}\n\n> {_overview(settings, generation)}\n\n"
        "Every article of the help center follows: its title, its address, its category, "
        "when it was last updated and its summary, then its text, section by section."
    ]
    for category, items in _by_category(generation, settings.default_locale):
        for meta in items:
            stored = generation.document(meta["slug"]) if generation else None
            head = [f"## {_one_line(meta['title'])}",
                    f"URL: {absolute(settings, article_path(meta['slug']))}",
                    f"Category: {_one_line(category)}"]
            if updated := _iso_date(meta.get("updated")):
                head.append(f"Updated: {updated}")
            if summary := _one_line(meta["summary"]):
                head.append(f"Summary: {summary}")
            text = _article_text((stored or {}).get("html", ""))
            parts.append("\n".join(head) + ("\n\n" + text if text else ""))
    return "\n\n---\n\n".join(parts) + "\n"


async def llms(request: Request) -> Response:
    return PlainTextResponse(await _built(request, "llms.txt", llms_txt))


async def llms_full(request: Request) -> Response:
    return PlainTextResponse(await _built(request, "llms-full.txt", llms_full_txt))


# ---------------------------------------------------------------- an article page's head


def faq_entries(html: str) -> list[tuple[str, str]]:
    """(question, answer) for each section of an article that is a list of questions: two
    or more headings with text under them, every one ending in a question mark. Anything
    else is not an FAQ, and an empty list."""
    sections = [s for s in split_sections(html) if s.heading]
    if len(sections) < 2 or not all(s.heading.endswith(QUESTION_MARKS) for s in sections):
        return []
    return [(s.heading, " ".join(s.text.split())) for s in sections]


def structured_data(settings: Settings, article: dict[str, Any]) -> dict[str, Any]:
    """schema.org data for an article page: an Article, and an FAQPage when it is one."""
    url = absolute(settings, article_path(article["slug"]))
    site = {"@type": "WebSite", "name": settings.site_name, "url": absolute(settings, KB_PREFIX)}
    item: dict[str, Any] = {
        "@type": "Article", "headline": article["title"], "url": url,
        "mainEntityOfPage": url, "inLanguage": article.get("locale") or "en", "isPartOf": site,
        "publisher": {"@type": "Organization", "name": settings.site_name},
    }
    if article.get("summary"):
        item["description"] = article["summary"]
    if updated := _iso_date(article.get("updated")):
        item["dateModified"] = updated
    if article.get("category"):
        item["articleSection"] = article["category"]
    if article.get("tags"):
        item["keywords"] = ", ".join(article["tags"])
    graph = [item]
    if entries := faq_entries(article.get("html", "")):
        graph.append({"@type": "FAQPage", "url": url, "mainEntity": [
            {"@type": "Question", "name": question,
             "acceptedAnswer": {"@type": "Answer", "text": answer}}
            for question, answer in entries]})
    return {"@context": "https://schema.org", "@graph": graph}


def json_ld(data: dict[str, Any]) -> Markup:
    """A JSON-LD data block. Browsers never run it (its type is not JavaScript, so the page
    CSP has nothing to allow), and `<`, `>`, `&` and the two JavaScript line breaks are JSON
    escapes, so no text inside can end the element or open a comment."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return Markup(f'<script type="application/ld+json">{text}</script>')


def article_head(settings: Settings, article: dict[str, Any]) -> dict[str, Any]:
    """What kb/article.html puts in its head for `article` (the page's payload): the canonical
    URL (the article's own slug, also when it was asked for by an alias), Open Graph
    properties in order, and the JSON-LD block."""
    url = absolute(settings, article_path(article["slug"]))
    og = [("og:type", "article"), ("og:title", article["title"])]
    if article.get("summary"):
        og.append(("og:description", article["summary"]))
    og += [("og:url", url), ("og:site_name", settings.site_name)]
    if updated := _iso_date(article.get("updated")):
        og.append(("article:modified_time", updated))
    return {"canonical": url, "og": og, "json_ld": json_ld(structured_data(settings, article))}


ROUTES = [
    Route("/sitemap.xml", sitemap, methods=["GET"], name="sitemap"),
    Route("/robots.txt", robots, methods=["GET"], name="robots"),
    Route("/llms.txt", llms, methods=["GET"], name="llms"),
    Route("/llms-full.txt", llms_full, methods=["GET"], name="llms_full"),
]
