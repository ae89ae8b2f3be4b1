"""The knowledge-base JSON API, as the widget and integrations call it."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient


def test_search_returns_contract_fields(client: TestClient) -> None:
    body = client.get("/api/v1/search", params={"q": "pasword"}).json()
    assert body["query"] == "pasword" and body["total"] >= 1
    hit = body["results"][0]
    assert set(hit) >= {"slug", "title", "url", "snippet", "category", "score"}
    assert hit["slug"] == "account/reset-password" and hit["url"] == "/kb/account/reset-password"


def test_search_limit_and_caps(client: TestClient) -> None:
    assert len(client.get("/api/v1/search?q=the&limit=1").json()["results"]) <= 1
    too_many = client.get("/api/v1/search?q=x&limit=1000")
    assert too_many.status_code == 400
    assert too_many.json()["error"]["message"] == "Parameter limit must be between 1 and 20"
    assert client.get("/api/v1/search?q=x&limit=abc").status_code == 400
    long = client.get("/api/v1/search", params={"q": "a" * 201})
    assert long.status_code == 400 and "longer than 200" in long.json()["error"]["message"]


def test_empty_query_is_empty_result(client: TestClient) -> None:
    assert client.get("/api/v1/search?q=").json() == {
        "query": "", "total": 0, "confidence": 0.0, "answer": None, "locale": "en",
        "fallback": False, "results": []}


def test_repeated_parameters_first_wins(client: TestClient) -> None:
    body = client.get("/api/v1/search?q=refund&q=password").json()
    assert body["query"] == "refund"


def test_article_payload_is_sanitized(client: TestClient) -> None:
    body = client.get("/api/v1/articles/hostile/hostile-markup").json()
    html = body["html"].lower()
    for bad in ("<script", "<iframe", "<style", "onerror", "onclick", "javascript:", "data:text",
                "style="):
        assert bad not in html
    assert 'href="https://example.org/page"' in html


def test_unknown_and_draft_articles_are_404_json(client: TestClient) -> None:
    for slug in ("nope", "billing/upcoming-plan"):
        response = client.get(f"/api/v1/articles/{slug}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_alias_reports_redirect(client: TestClient) -> None:
    body = client.get("/api/v1/articles/old/forgot-password").json()
    assert body["redirect_to"] == "account/reset-password"
    assert body["related"][0]["slug"] == "account/two-factor"


def test_suggestions_match_page_patterns_first(client: TestClient) -> None:
    body = client.get("/api/v1/suggestions", params={"url": "https://shop.example/checkout/pay"}).json()
    assert body["results"][0]["slug"] == "billing/refunds"
    login = client.get("/api/v1/suggestions", params={"url": "https://shop.example/login"}).json()
    assert login["results"][0]["slug"] == "account/reset-password"


def test_suggestions_fall_back_when_nothing_matches(client: TestClient) -> None:
    body = client.get("/api/v1/suggestions", params={"url": "https://x.example/", "limit": 3}).json()
    assert len(body["results"]) == 3


def test_feedback_validates(client: TestClient) -> None:
    ok = client.post("/api/v1/articles/billing/refunds/feedback", json={"helpful": True})
    assert ok.status_code == 202
    bad = client.post("/api/v1/articles/billing/refunds/feedback", json={"helpful": "yes"})
    assert bad.status_code == 422 and bad.json()["error"]["details"] == {"helpful": "expected true or false"}
    unknown = client.post("/api/v1/articles/billing/refunds/feedback", json={"helpful": True, "x": 1})
    assert unknown.status_code == 422 and unknown.json()["error"]["details"] == {"x": "unknown field"}
    assert client.post("/api/v1/articles/nope/feedback", json={"helpful": True}).status_code == 404


@pytest.mark.parametrize("reason", ["wrong", "outdated", "unanswered", "unclear", "other"])
def test_feedback_takes_a_reason(client: TestClient, reason: str) -> None:
    ok = client.post("/api/v1/articles/billing/refunds/feedback",
                     json={"helpful": False, "reason": reason})
    assert ok.status_code == 202
    [vote] = [e for e in client.app.state.services.events.iter_events() if e["type"] == "vote"]
    assert vote["data"]["reason"] == reason


def test_feedback_refuses_an_unknown_reason(client: TestClient) -> None:
    bad = client.post("/api/v1/articles/billing/refunds/feedback",
                      json={"helpful": False, "reason": "boring"})
    assert bad.status_code == 422 and list(bad.json()["error"]["details"]) == ["reason"]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"helpful": true', "application/json", 400),
        (b'{"helpful": NaN}', "application/json", 400),
        (b"", "application/json", 400),
        (b'\xef\xbb\xbf{"helpful": true}', "application/json", 400),
        (b"[" * 50 + b"]" * 50, "application/json", 400),
        (b"helpful=true", "application/x-www-form-urlencoded", 415),
        (b'{"helpful": true}', "text/plain", 415),
    ],
)
def test_malformed_bodies_are_client_errors(client: TestClient, body: bytes, content_type: str,
                                            status: int) -> None:
    response = client.post("/api/v1/articles/billing/refunds/feedback", content=body,
                           headers={"content-type": content_type})
    assert response.status_code == status
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_oversized_body_is_413_before_reading(client: TestClient) -> None:
    response = client.post("/api/v1/articles/billing/refunds/feedback",
                           content=b"x" * 70000, headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_feedback_from_foreign_origin_is_refused(client: TestClient) -> None:
    response = client.post("/api/v1/articles/billing/refunds/feedback", json={"helpful": True},
                           headers={"origin": "https://evil.example"})
    assert response.status_code == 403


def test_wrong_method_is_405_json(client: TestClient) -> None:
    response = client.delete("/api/v1/search")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def test_healthz_reports_articles_and_generation(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["articles"] == 7 and body["index_generation"] == "gen-000001"


def test_api_rate_limit_answers_429_with_retry_after(make_settings) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from widget_server.app import create_app
    from widget_server.search import reindex

    settings = make_settings(api_rate_limit="3/minute")
    reindex(Path(settings.kb_dir), settings.index_dir)
    with TestClient(create_app(settings)) as limited:
        codes = [limited.get("/api/v1/search?q=refund").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = limited.get("/api/v1/articles/billing/refunds")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "rate_limited"


def test_bad_rate_setting_fails_at_start() -> None:
    from widget_server.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="setting api_rate_limit .*not a rate like 5/minute"):
        load_settings(config_file=None, environ={"DESKBELL_API_RATE_LIMIT": "lots"})
