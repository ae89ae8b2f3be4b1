"""Several nodes, one knowledge base: each node builds its own index from the same articles
(`deskbell reindex` on deploy) and must answer exactly what the others answer."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.search import reindex
from widget_server.settings import Settings

QUERIES = ["password", "how do I get my money back", "reset pasword", "two factor", "pa",
           "what is the capital of peru", "invoice"]


def test_two_nodes_built_from_one_kb_answer_the_same(
        make_settings: Callable[..., Settings], kb_dir: Path, tmp_path: Path) -> None:
    answers = []
    for node in ("a", "b"):
        checkout = tmp_path / node / "kb"  # each node has its own copy of the git checkout
        shutil.copytree(kb_dir, checkout)
        settings = make_settings(kb_dir=str(checkout), data_dir=str(tmp_path / node / "data"))
        reindex(checkout, settings.index_dir)
        with TestClient(create_app(settings)) as client:
            answers.append([client.get("/api/v1/search", params={"q": q}).json()
                            for q in QUERIES])
    first, second = answers
    assert first == second
    assert any(answer["results"] for answer in first)  # not two empty lists
    assert any(answer["answer"] for answer in first)  # and meaning, not words only
