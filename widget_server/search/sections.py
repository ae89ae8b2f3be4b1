"""An article's sections: the text under each heading, as quotable HTML and as plain text.

Articles are rendered to sanitized HTML once, at reindex; a section is the run of that HTML
from one heading (h2-h4, with the id the renderer gave it) to the next heading of any level.
The text before the first heading is the opening section (no heading, no anchor). Slicing
sanitized HTML at tag boundaries of top-level headings keeps every quote well-formed and as
safe as the article page itself: an answer card is never new HTML, only part of the old.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

from ..markup import html_to_text

# Headings as the markdown renderer writes them: top level, one line, an id from the toc.
_HEADING = re.compile(r'<h([1-4])(?: id="([^"]*)")?>(.*?)</h\1>', re.S)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Section:
    heading: str  # plain text; "" for the opening
    anchor: str  # the heading's id; "" for the opening
    html: str  # the heading itself is left out: the card shows it as its own line
    text: str


def split_sections(html: str) -> list[Section]:
    """Sections in reading order; sections with no text of their own are left out."""
    sections: list[Section] = []
    heading, anchor, start = "", "", 0
    for match in _HEADING.finditer(html):
        _add(sections, heading, anchor, html[start:match.start()])
        heading = unescape(_TAG.sub("", match.group(3))).strip()
        anchor, start = match.group(2) or "", match.end()
    _add(sections, heading, anchor, html[start:])
    return sections


def _add(sections: list[Section], heading: str, anchor: str, html: str) -> None:
    html = html.strip()
    text, _ = html_to_text(html)
    if text:
        sections.append(Section(heading=heading, anchor=anchor, html=html, text=text))


def section_text(title: str, section: Section, words: int = 60) -> str:
    """What the model reads for a section: where it is, then how it begins."""
    opening = " ".join(section.text.split()[:words])
    where = f"{title}: {section.heading}" if section.heading else title
    return f"{where}. {opening}"
