"""Every HTML page Deskbell serves carries a strict CSP and the usual hardening headers."""

from __future__ import annotations

from starlette.routing import Route
from starlette.testclient import TestClient

from .conftest import csrf_of, log_in

SAMPLES = {"{slug:path}": "account/reset-password", "{name:path}": "panel.js",
           "{reference}": "DB-0000-0000-0000"}


def concrete(path: str) -> str:
    for pattern, value in SAMPLES.items():
        path = path.replace(pattern, value)
    return path


def test_every_html_response_has_a_strict_csp(app_client) -> None:
    client: TestClient = app_client()
    reference = client.post("/api/v1/tickets", json={
        "name": "Ada", "email": "ada@example.com", "subject": "s", "message": "m"}).json()
    assert csrf_of(client.get("/admin/login").text)
    log_in(client)
    paths = {concrete(r.path) for r in client.app.routes
             if isinstance(r, Route) and "GET" in (r.methods or set())}
    paths |= {f"/admin/tickets/{reference['reference']}", "/kb/no-such-page", "/kb/search?q=x"}
    html_pages = 0
    for path in sorted(paths):
        response = client.get(path)
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        html_pages += 1
        csp = response.headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"], path
        if path.startswith("/admin"):
            assert "frame-ancestors 'none'" in csp, path
    assert html_pages >= 8
