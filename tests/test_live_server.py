"""A running server follows the index: `deskbell reindex` swaps in a new generation and the
server answers from it within seconds, with the search interval it ships with (no test
override of how often it checks), and never without answers in between."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from widget_server.app import create_app
from widget_server.search import reindex
from widget_server.settings import Settings

from .conftest import served

NEW = "billing/gift-wrapping"
SWAP_WITHIN = 5.0  # seconds; the server checks the index once a second


def test_a_running_server_switches_to_a_new_generation_within_seconds(indexed: Settings) -> None:
    kb = Path(indexed.kb_dir)
    with served(create_app(indexed)) as url, httpx.Client(base_url=url, timeout=30) as http:

        def slugs(q: str) -> list[str]:
            answer = http.get("/api/v1/search", params={"q": q})
            assert answer.status_code == 200, answer.text
            return [hit["slug"] for hit in answer.json()["results"]]

        assert NEW not in slugs("giftwrapping")
        assert slugs("refund")[:1] == ["billing/refunds"]
        before = http.get("/healthz").json()["index_generation"]

        (kb / "billing" / "gift-wrapping.md").write_text(
            "---\ntitle: Gift wrapping\nsummary: Wrap an order as a present.\n---\n"
            "We offer giftwrapping for every order, with a card.\n")
        assert reindex(kb, indexed.index_dir).indexed == 1  # what `deskbell reindex` runs
        swapped = time.monotonic()
        while NEW not in slugs("giftwrapping"):
            # The old generation answers until the new one is ready: never an empty window.
            assert slugs("refund")[:1] == ["billing/refunds"]
            assert time.monotonic() - swapped < SWAP_WITHIN, "the server kept the old index"
            time.sleep(0.05)
        assert slugs("refund")[:1] == ["billing/refunds"]
        after = http.get("/healthz").json()
    assert after["index_generation"] != before and after["articles"] == 8
