"""/kb/search without JavaScript: a confident answer is quoted with its source; otherwise the
page says it has no exact answer and labels what it found as the closest articles."""

from __future__ import annotations

import dataclasses

import pytest
from starlette.testclient import TestClient

from tests.test_pages import assert_no_injection, elements
from widget_server.search import Answer

HOSTILE = "hostile/hostile-markup"


def search_page(client: TestClient, q: str) -> str:
    page = client.get("/kb/search", params={"q": q})
    assert page.status_code == 200
    assert_no_injection(page.text)
    return page.text


def test_a_question_gets_the_section_that_answers_it_quoted(client: TestClient) -> None:
    text = search_page(client, "how long does the password reset link stay valid")
    assert 'class="answer"' in text
    assert "From <cite>" in text
    assert "Reset your password › Reset link" in text
    assert '<a href="/kb/account/reset-password#reset-link">' in text
    assert "valid for one hour" in text
    assert ">Read the full article</a>" in text
    assert "exact answer" not in text and "Closest articles" not in text


def test_an_off_topic_question_is_told_there_is_no_exact_answer(client: TestClient) -> None:
    text = search_page(client, "my dishwasher won't drain")
    assert 'class="answer"' not in text
    assert "We couldn&#39;t find an exact answer" in text  # the catalog's words, escaped
    assert ("a", {"href": "/kb/"}) in elements(text)  # the way on: every article
    if 'class="results"' in text:
        assert "Closest articles" in text
        assert text.index("exact answer") < text.index("Closest articles") < text.index("results")


def test_no_results_at_all_is_the_same_honest_state(client: TestClient) -> None:
    text = search_page(client, "???")  # no words: nothing is near it
    assert "We couldn&#39;t find an exact answer" in text  # the catalog's words, escaped
    assert "No articles match “???”" in text
    assert ("a", {"href": "/kb/"}) in elements(text)
    assert 'class="results"' not in text and "Closest articles" not in text


def test_hostile_markup_in_an_answer_cannot_run(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever section the ranking picks, its HTML is the article's sanitized HTML and every
    # other field is text: give the page the hostile article's own HTML and hostile fields.
    service = client.app.state.services.search  # type: ignore[attr-defined]
    article = service.article(HOSTILE)
    found = service.search("hostile paragraph", limit=10)
    answer = Answer(slug=HOSTILE, title=article["title"], heading="<img src=x onerror=alert(1)>",
                    anchor='"><script>alert(2)</script>', html=article["html"], confidence=0.9)
    monkeypatch.setattr(service, "search", lambda *args, **kwargs: dataclasses.replace(
        found, answer=answer, confidence=0.9))

    text = search_page(client, "hostile paragraph")
    assert 'class="answer"' in text
    assert "Paragraph with handlers" in text  # the quote is there, as sanitized HTML
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in text  # title: text
    assert "› &lt;img src=x onerror=alert(1)&gt;" in text  # heading: text
    assert '#&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in text  # anchor: text


def test_the_hostile_article_stays_safe_when_search_quotes_it(client: TestClient) -> None:
    # The real ranking, on the hostile fixture's own words: it quotes that article.
    text = search_page(client, "paragraph with handlers")
    assert 'class="answer"' in text
    assert f'<a href="/kb/{HOSTILE}">' in text
    assert "Paragraph with handlers" in text


def test_a_section_named_like_its_article_is_named_once(client: TestClient) -> None:
    text = search_page(client, "how much does shipping cost")
    assert '<a href="/kb/billing/shipping-costs#shipping-costs">Shipping costs</a>' in text
    assert "Shipping costs › Shipping costs" not in text
