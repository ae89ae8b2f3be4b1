"""As-you-type query streams: what the widget sends while a visitor types a query.

Each query is typed one character at a time with human inter-key gaps (seeded, 40–180 ms).
The widget waits 120 ms after the last key before it searches, so a prefix is sent only when
the pause after it reaches the debounce, and the full query is always sent. With these gaps
roughly every second or third prefix reaches the server, as in the widget.

The widget marks those keystrokes `instant=1` (ranked by words, never answered) and sends the
finished query without it once the visitor pauses (450 ms): `typing_stream` tells the two
apart, the last request of each query being its finished form.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

QUERIES = Path(__file__).resolve().parent / "queries" / "arduino.json"
DEBOUNCE_MS = 120


def load_queries(path: Path = QUERIES, offtopic: bool = False) -> list[str]:
    # The off-topic queries (answers: []) were added to the quality set later; leaving them
    # out keeps this stream, and the latency figures measured with it, as they were.
    items = json.loads(path.read_text(encoding="utf-8"))["queries"]
    return [item["q"] for item in items if item["answers"] or offtopic]


def typed_prefixes(query: str, rng: random.Random) -> list[str]:
    sent = []
    for end in range(1, len(query) + 1):
        gap = rng.uniform(40, 180)
        prefix = query[:end].strip()
        if prefix and (end == len(query) or gap >= DEBOUNCE_MS) and prefix not in sent[-1:]:
            sent.append(prefix)
    return sent


def as_you_type(queries: list[str], seed: int = 7) -> list[str]:
    """Every request of a stream in which each query is typed once, in order."""
    rng = random.Random(seed)
    return [prefix for q in queries for prefix in typed_prefixes(q, rng)]


def typing_stream(queries: list[str], seed: int = 7) -> list[tuple[str, bool]]:
    """The same requests as `as_you_type`, as (text, finished): every prefix but the last is a
    keystroke (sent with instant=1), the last one is the finished query (sent without)."""
    rng = random.Random(seed)
    stream: list[tuple[str, bool]] = []
    for q in queries:
        sent = typed_prefixes(q, rng)
        stream += [(prefix, i == len(sent) - 1) for i, prefix in enumerate(sent)]
    return stream
