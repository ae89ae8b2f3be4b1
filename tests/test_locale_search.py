"""Search in the visitor's language: a knowledge base with English and Spanish articles
(`locale:` in the front matter; none means English) answers `locale=es` with Spanish articles
only and `locale=en` with English ones, by words and by meaning; a language it does not have
answers in the languages it has."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.search import reindex
from widget_server.settings import load_settings

ARTICLES = {
    "en/refunds.md": "---\ntitle: Refunds and returns\nsummary: Get your money back within "
                     "30 days.\n---\nAsk for a refund within 30 days; PayPal payments are "
                     "refunded to PayPal.\n",
    "en/shipping.md": "---\ntitle: Shipping costs\nlocale: en\n---\nShipping is free above 50 "
                      "euros; orders paid with PayPal ship the same day.\n",
    "es/reembolsos.md": "---\ntitle: Reembolsos y devoluciones\nlocale: es\nsummary: Recupera "
                        "tu dinero en 30 días.\n---\nPide un reembolso en 30 días; los pagos "
                        "con PayPal se devuelven a PayPal.\n",
    "es/envios.md": "---\ntitle: Gastos de envío\nlocale: es\n---\nEl envío es gratis desde 50 "
                    "euros; los pedidos pagados con PayPal salen el mismo día.\n",
}
ENGLISH = {"en/refunds", "en/shipping"}
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


def found(client: TestClient, q: str, **params: str) -> set[str]:
    answer = client.get("/api/v1/search", params={"q": q, **params})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    slugs = {hit["slug"] for hit in body["results"]}
    if body["answer"]:  # a quoted answer comes from one of the results' language too
        slugs.add(body["answer"]["slug"])
    return slugs


def test_a_locale_the_kb_has_returns_only_its_articles(client: TestClient) -> None:
    assert found(client, "paypal") == ENGLISH | SPANISH
    assert found(client, "paypal", locale="es") == SPANISH
    assert found(client, "paypal", locale="en") == ENGLISH  # no locale: counts as English
    assert found(client, "paypal", locale="es", instant="1") == SPANISH  # a keystroke too


def test_words_and_meaning_from_another_language_stay_out(client: TestClient) -> None:
    # English words with locale=es: never an English article, by words or by meaning.
    assert found(client, "refund", locale="es") <= SPANISH
    assert found(client, "how do I get my money back", locale="es") <= SPANISH
    assert found(client, "recuperar mi dinero", locale="en") <= ENGLISH
    assert "en/refunds" in found(client, "how do I get my money back", locale="en")


def test_a_language_the_kb_lacks_answers_in_the_languages_it_has(client: TestClient) -> None:
    assert found(client, "paypal", locale="de") == ENGLISH | SPANISH
    assert found(client, "paypal", locale="de") == found(client, "paypal")


def test_an_article_says_its_language(client: TestClient) -> None:
    assert client.get("/api/v1/articles/es/envios").json()["locale"] == "es"
    assert client.get("/api/v1/articles/en/refunds").json()["locale"] == "en"
