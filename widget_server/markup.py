"""Markdown to safe HTML: render an article's body, sanitize it with nh3, and read its text.

    render_markdown(body) -> Rendered(html, text, headings)
    sanitize_html(html)   the allow-list every piece of article HTML passes through
    html_to_text(html)    the words and the h1-h4 headings, for the index and snippets
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

import markdown
import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
    "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align", "colspan", "rowspan"},
    "td": {"align", "colspan", "rowspan"},
    "code": {"class"},
    "ol": {"start"},
    **{f"h{n}": {"id"} for n in range(1, 7)},
}
URL_SCHEMES = {"http", "https", "mailto"}


@dataclass(frozen=True)
class Rendered:
    html: str
    text: str
    headings: list[str]


class _TextExtractor(HTMLParser):
    _BLOCK = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "pre", "br", "tr", "dd"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"h1", "h2", "h3", "h4"}:
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BLOCK:
            self.parts.append("\n")
        if self._heading is not None and tag in {"h1", "h2", "h3", "h4"}:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        if self._heading is not None:
            self._heading.append(data)


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def html_to_text(html: str) -> tuple[str, list[str]]:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = re.sub(r"[ \t]+", " ", "".join(parser.parts))
    return re.sub(r"\n\s*\n+", "\n", text).strip(), parser.headings


_CONVERTERS = threading.local()


def _converter() -> markdown.Markdown:
    # Building a converter costs about a third of converting an article; one per thread
    # (an instance is not thread-safe), reset between documents as the markdown docs advise.
    md: markdown.Markdown | None = getattr(_CONVERTERS, "md", None)
    if md is None:
        md = _CONVERTERS.md = markdown.Markdown(
            extensions=["tables", "fenced_code", "sane_lists", "toc"],
            extension_configs={"toc": {"permalink": False}},
            output_format="html",
        )
    return md.reset()


def render_markdown(body: str) -> Rendered:
    html = sanitize_html(_converter().convert(body))
    text, headings = html_to_text(html)
    return Rendered(html=html, text=text, headings=headings)


def is_external(href: str) -> bool:
    return bool(urlsplit(href).netloc)


__all__ = ["ALLOWED_ATTRIBUTES", "ALLOWED_TAGS", "Rendered", "html_to_text", "is_external",
           "render_markdown", "sanitize_html"]
