"""The excerpt shown under a hit: the densest run of query words, escaped, matches marked."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from html import escape

from ..text import stem_word
from .analysis import is_unspaced


def _alternative(stem: str) -> str:
    # A word starts at a word boundary and runs to its end; a pair of characters of a script
    # written without spaces stands anywhere in a run and is marked alone.
    if is_unspaced(stem):
        return re.escape(stem)
    return rf"\b{re.escape(stem)}\w*"


def make_snippet(text: str, terms: list[str], fallback: str = "", width: int = 220,
                 stem: Callable[[str], str] = stem_word) -> str:
    """An escaped excerpt around the densest run of query words; matches wrapped in <mark>."""
    if not text:
        return escape(fallback)
    stems = sorted({stem(t) for t in terms if len(t) > 1} | {t for t in terms if len(t) > 1},
                   key=len, reverse=True)
    pattern = re.compile("|".join(map(_alternative, stems)), re.I) if stems else None
    starts = [m.start() for m in itertools.islice(pattern.finditer(text), 500)] if pattern else []
    begin = 0
    if starts:
        # The window that starts at the match with the most other matches within `width` chars.
        best = max(range(len(starts)), key=lambda i: sum(1 for s in starts[i:i + 12] if s - starts[i] < width))
        begin = max(0, starts[best] - 40)
        while begin > 0 and not text[begin - 1].isspace():
            begin -= 1
    end = min(len(text), begin + width)
    while end < len(text) and not text[end].isspace():
        end += 1
    window = text[begin:end]
    out: list[str] = ["… " if begin else ""]
    cursor = 0
    for match in pattern.finditer(window) if pattern else ():
        out.append(escape(window[cursor : match.start()]))
        out.append(f"<mark>{escape(match.group())}</mark>")
        cursor = match.end()
    out.append(escape(window[cursor:]))
    out.append(" …" if end < len(text) else "")
    return re.sub(r"\s+", " ", "".join(out)).strip()
