"""Meaning-aware search: the bundled model, vectors per generation, the answer card, the
honest "no answer", and the lexical fallback when meaning is not available."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.search import SearchService, current_generation, embedding, reindex
from widget_server.search.vectors import ARTICLES_FILE, META_FILE
from widget_server.settings import Settings

from .conftest import served, unavailable

OFF_TOPIC = "what's the weather like in lisbon this weekend"
PARAPHRASE = "can i get my money back"  # the refunds article never says "get" or "can"


def _live(settings: Settings) -> Path:
    name = current_generation(settings.index_dir)
    assert name is not None
    return settings.index_dir / name


def test_the_model_loads_from_the_installed_package_with_the_network_off() -> None:
    if shutil.which("unshare") is None:
        unavailable("unshare (util-linux) is needed to take the network away")
    code = ("from widget_server.search.embedding import load_encoder; "
            "v = load_encoder().encode(['refund my order']); "
            "print(v.shape[1], round(float((v * v).sum()), 3))")
    run = subprocess.run(["unshare", "--net", sys.executable, "-c", code],
                         capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    if run.returncode != 0 and "unshare" in run.stderr and "Operation not permitted" in run.stderr:
        unavailable(f"cannot make a network namespace here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["384", "1.0"]  # a real unit vector, with no network at all


def test_a_paraphrase_finds_the_article_and_quotes_it(client: TestClient) -> None:
    body = client.get("/api/v1/search", params={"q": PARAPHRASE}).json()
    assert body["results"][0]["slug"] == "billing/refunds"
    answer = body["answer"]
    assert answer is not None and answer["slug"] == "billing/refunds"
    assert answer["title"] == "Refunds and returns"
    assert "within 30 days of delivery for a full refund" in answer["html"]
    assert body["confidence"] == answer["confidence"] >= client.get("/healthz").json()["search"]["answer_threshold"]


def test_an_off_topic_question_gets_no_answer_but_the_closest_articles(client: TestClient) -> None:
    body = client.get("/api/v1/search", params={"q": OFF_TOPIC}).json()
    assert body["answer"] is None
    assert body["confidence"] < client.get("/healthz").json()["search"]["answer_threshold"]


def test_a_misspelt_question_still_gets_its_answer(client: TestClient) -> None:
    body = client.get("/api/v1/search", params={"q": "how do i reset my pasword"}).json()
    assert body["answer"] is not None and body["answer"]["slug"] == "account/reset-password"


def test_a_keystroke_is_ranked_by_words_and_never_answered(client: TestClient) -> None:
    typing = client.get("/api/v1/search", params={"q": "reset my pass", "instant": "1"}).json()
    assert typing["answer"] is None
    assert typing["results"][0]["slug"] == "account/reset-password"
    refused = client.get("/api/v1/search", params={"q": "reset", "instant": "maybe"})
    assert refused.status_code == 400
    assert "instant" in refused.json()["error"]["message"]


def test_the_answer_quotes_the_section_that_answers_with_its_anchor(make_settings, kb_dir: Path) -> None:
    (kb_dir / "account" / "security-keys.md").write_text(
        "---\ntitle: Security keys\n---\nSecurity keys protect your account.\n\n"
        "## Add a key\n\nOpen Settings, choose Security, press Add key and touch the key.\n\n"
        "## Lost key\n\nIf you lost your key, sign in with a recovery code and remove the "
        "lost key from the list, then add a new one.\n")
    settings = make_settings()
    reindex(Path(settings.kb_dir), settings.index_dir)
    service = SearchService(settings.index_dir)
    try:
        result = service.search("i lost my security key what now")
    finally:
        service.close()
    assert result.answer is not None
    assert (result.answer.slug, result.answer.heading, result.answer.anchor) == (
        "account/security-keys", "Lost key", "lost-key")
    assert result.answer.html.startswith("<p>If you lost your key")
    assert "Add key" not in result.answer.html  # one section, not the article


def test_hostile_articles_are_quoted_sanitized(indexed: Settings) -> None:
    service = SearchService(indexed.index_dir, threshold=0.0)  # always answer
    try:
        result = service.search("paragraph with handlers external site template")
    finally:
        service.close()
    assert result.answer is not None and result.answer.slug == "hostile/hostile-markup"
    html = result.answer.html.lower()
    for dangerous in ("<script", "<iframe", "<style", "onclick", "onerror", "javascript:",
                      "data:text", "<svg", "<math"):
        assert dangerous not in html
    assert "Paragraph with handlers" in result.answer.html


def test_incremental_reindex_encodes_only_changed_articles(indexed: Settings) -> None:
    kb = Path(indexed.kb_dir)
    first = json.loads((_live(indexed) / META_FILE).read_text())
    assert reindex(kb, indexed.index_dir).encoded == 0
    page = kb / "billing" / "refunds.md"
    page.write_text(page.read_text() + "\nStore credit is offered for late returns.\n")
    result = reindex(kb, indexed.index_dir)
    assert (result.indexed, result.encoded) == (1, 1)
    after = json.loads((_live(indexed) / META_FILE).read_text())
    assert [slug for slug, _ in after["articles"]] == [slug for slug, _ in first["articles"]]
    changed = {slug for (slug, h1), (_, h2) in zip(first["articles"], after["articles"], strict=True) if h1 != h2}
    assert changed == {"billing/refunds"}


def test_a_swapped_in_generation_brings_its_vectors(indexed: Settings) -> None:
    service = SearchService(indexed.index_dir, check_every=0)
    try:
        before = service.search(PARAPHRASE)
        page = Path(indexed.kb_dir) / "billing" / "store-credit.md"
        page.write_text("---\ntitle: Store credit\n---\nInstead of cash, we can pay you back "
                        "in store credit, valid for a year.\n")
        name = reindex(Path(indexed.kb_dir), indexed.index_dir).generation
        after = service.search("pay me back in vouchers for the shop")
        assert service.serving is not None and service.serving.name == name
        assert service.status()["ranking"] == "hybrid"
        assert after.hits[0].slug == "billing/store-credit"
        assert before.hits[0].slug == "billing/refunds"
    finally:
        service.close()


@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_damaged_vectors_fall_back_to_words_and_say_so(indexed: Settings, damage: str) -> None:
    vectors = _live(indexed) / ARTICLES_FILE
    if damage == "missing":
        vectors.unlink()
    else:
        vectors.write_bytes(vectors.read_bytes()[:100])
    with TestClient(create_app(indexed)) as client:
        health = client.get("/healthz").json()["search"]
        body = client.get("/api/v1/search", params={"q": "refund"}).json()
    assert health["ranking"] == "lexical"
    assert "ranking by words only" in health["note"]
    assert ("missing vectors-articles.npy" if damage == "missing" else "unreadable") in health["note"]
    assert body["results"][0]["slug"] == "billing/refunds"  # search goes on, by words


def test_semantic_off_builds_no_vectors_and_ranks_by_words(make_settings) -> None:
    settings = make_settings(semantic=False)
    result = reindex(Path(settings.kb_dir), settings.index_dir, semantic=False)
    assert result.encoded == 0 and "turned off" in result.semantic_note
    assert not (_live(settings) / META_FILE).exists()
    with TestClient(create_app(settings)) as client:
        health = client.get("/healthz").json()["search"]
        assert health == {"ranking": "lexical", "model": None, "answer_threshold": health["answer_threshold"],
                          "note": "semantic search is turned off (semantic = false)"}
        assert client.get("/api/v1/search", params={"q": "refund"}).json()["results"]


def test_a_missing_model_package_starts_the_server_on_words(indexed: Settings,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding, "_MODEL_PACKAGE", "deskbell_no_such_model_package")
    monkeypatch.setattr(embedding, "_LOADED", {})
    with TestClient(create_app(indexed)) as client:
        health = client.get("/healthz").json()["search"]
        body = client.get("/api/v1/search", params={"q": "refund"}).json()
    assert health["ranking"] == "lexical"
    assert "model package is not installed" in health["note"]
    assert body["results"][0]["slug"] == "billing/refunds"


def test_calibration_is_the_same_for_the_same_articles(settings: Settings, tmp_path: Path) -> None:
    kb = Path(settings.kb_dir)
    first = reindex(kb, tmp_path / "one")
    second = reindex(kb, tmp_path / "two")
    one = (tmp_path / "one" / first.generation / "calibration.json").read_text()
    two = (tmp_path / "two" / second.generation / "calibration.json").read_text()
    assert one == two
    assert first.threshold is not None and 0.15 <= first.threshold <= 0.75


def test_the_owner_can_set_the_answer_threshold(make_settings) -> None:
    settings = make_settings(answer_threshold="0.99")
    reindex(Path(settings.kb_dir), settings.index_dir)
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json()["search"]["answer_threshold"] == 0.99
        assert client.get("/api/v1/search", params={"q": PARAPHRASE}).json()["answer"] is None


def test_a_slow_search_never_holds_up_a_ticket(indexed: Settings) -> None:
    app = create_app(indexed)
    release = threading.Event()
    with served(app) as base:
        # Occupy the search thread, as a slow query would.
        busy = app.state.services.search._thread.submit(release.wait, 30)
        waiting: list[httpx.Response] = []
        searcher = threading.Thread(target=lambda: waiting.append(
            httpx.get(f"{base}/api/v1/search", params={"q": "refund"}, timeout=30)))
        searcher.start()
        try:
            ticket = httpx.post(f"{base}/api/v1/tickets", timeout=10, json={
                "name": "Ada", "email": "ada@example.com", "subject": "Refund",
                "message": "My parcel came back damaged, what now?"})
            health = httpx.get(f"{base}/healthz", timeout=10)
            assert ticket.status_code == 201 and health.status_code == 200
            assert not waiting  # the search is still waiting for the search thread
        finally:
            release.set()
            searcher.join(timeout=30)
            busy.result(timeout=30)
    assert waiting and waiting[0].status_code == 200
