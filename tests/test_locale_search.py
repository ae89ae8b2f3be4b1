"""Search in the visitor's language: a knowledge base with English and Spanish articles
(`locale:` in the front matter; none means English) answers `locale=es` with Spanish articles
only and `locale=en` with English ones, by words and by meaning. When the visitor's language
finds nothing, or the knowledge base does not have it, the site default locale answers, and
the result says it is a fallback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.search import reindex
from widget_server.settings import load_settings

ARTICLES = {
    "refunds.md": "---\ntitle: Refunds and returns\nsummary: Get your money back within "
                  "30 days.\n---\nAsk for a refund within 30 days; PayPal payments are "
                  "refunded to PayPal.\n",
    "shipping.md": "---\ntitle: Shipping costs\nlocale: en\n---\nShipping is free above 50 "
                   "euros; orders paid with PayPal ship the same day.\n",
    "es/reembolsos.md": "---\ntitle: Reembolsos y devoluciones\nlocale: es\nsummary: Recupera "
                        "tu dinero en 30 días.\n---\nPide un reembolso en 30 días; los pagos "
                        "con PayPal se devuelven a PayPal.\n",
    "es/envios.md": "---\ntitle: Gastos de envío\nlocale: es\n---\nEl envío es gratis desde 50 "
                    "euros; los pedidos pagados con PayPal salen el mismo día.\n",
}
ENGLISH = {"refunds", "shipping"}
SPANISH = {"es/reembolsos", "es/envios"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    kb = tmp_path / "kb"
    for relative, text in ARTICLES.items():
        (kb / relative).parent.mkdir(parents=True, exist_ok=True)
        (kb / relative).write_text(text, encoding="utf-8")
    settings = load_settings(overrides={"kb_dir": str(kb), "data_dir": str(tmp_path / "data")},
                             config_file=None, environ={})
    reindex(kb, settings.index_dir)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def search(client: TestClient, q: str, **params: str) -> dict:
    answer = client.get("/api/v1/search", params={"q": q, **params})
    assert answer.status_code == 200, answer.text
    body: dict = answer.json()
    return body


def found(client: TestClient, q: str, **params: str) -> set[str]:
    body = search(client, q, **params)
    slugs = {hit["slug"] for hit in body["results"]}
    if body["answer"]:  # a quoted answer comes from one of the results' language too
        slugs.add(body["answer"]["slug"])
    return slugs


def test_a_locale_the_kb_has_returns_only_its_articles(client: TestClient) -> None:
    assert found(client, "paypal", locale="es") == SPANISH
    assert found(client, "paypal", locale="en") == ENGLISH
    assert found(client, "paypal", locale="es-MX") == SPANISH  # the language is enough
    assert found(client, "paypal", locale="es", instant="1") == SPANISH  # a keystroke too
    body = search(client, "paypal", locale="es")
    assert body["locale"] == "es" and body["fallback"] is False
    assert {hit["locale"] for hit in body["results"]} == {"es"}


def test_no_locale_searches_the_site_default_locale(client: TestClient) -> None:
    assert found(client, "paypal") == ENGLISH
    assert search(client, "paypal")["fallback"] is False


def test_words_and_meaning_from_another_language_stay_out(client: TestClient) -> None:
    # English words with locale=es find no Spanish article: the English ones answer, marked
    # as a fallback, never mixed with Spanish ones.
    for q in ("refund", "how do I get my money back"):
        body = search(client, q, locale="es")
        assert body["fallback"] is True and body["locale"] == "en", q
        assert {hit["locale"] for hit in body["results"]} == {"en"}, q
    assert found(client, "refund", locale="es") <= ENGLISH
    assert found(client, "recuperar mi dinero", locale="en") <= ENGLISH
    assert "refunds" in found(client, "how do I get my money back", locale="en")


def test_a_language_the_kb_lacks_answers_in_the_default_locale(client: TestClient) -> None:
    body = search(client, "paypal", locale="de")
    assert body["fallback"] is True and body["locale"] == "en"
    assert found(client, "paypal", locale="de") == ENGLISH


def test_an_article_says_its_language(client: TestClient) -> None:
    assert client.get("/api/v1/articles/es/envios").json()["locale"] == "es"
    assert client.get("/api/v1/articles/refunds").json()["locale"] == "en"
