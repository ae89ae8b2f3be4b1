"""As-you-type query streams: what the widget sends while a visitor types a query.

Each query is typed one character at a time with human inter-key gaps (seeded, 40–180 ms).
The widget waits 120 ms after the last key before it searches, so a prefix is sent only when
the pause after it reaches the debounce, and the full query is always sent. With these gaps
roughly every second or third prefix reaches the server, as in the widget.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

QUERIES = Path(__file__).resolve().parent / "queries" / "arduino.json"
DEBOUNCE_MS = 120


def load_queries(path: Path = QUERIES) -> list[str]:
    # The off-topic queries (answers: []) were added to the quality set later; leaving them
    # out keeps this stream, and the latency figures measured with it, as they were.
    items = json.loads(path.read_text(encoding="utf-8"))["queries"]
    return [item["q"] for item in items if item["answers"]]


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
