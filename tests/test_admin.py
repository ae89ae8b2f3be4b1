"""The admin inbox: only the admin gets in, hostile visitor text stays text, no forged forms."""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from starlette.routing import Route
from starlette.testclient import TestClient

from widget_server import durable
from widget_server.app import create_app
from widget_server.settings import load_settings

from .test_pages import elements

PASSWORD = "correct horse battery staple"
HOSTILE = {
    "name": '<img src=x onerror=alert(1)>\u202eevil',
    "email": "x@example.com",
    "subject": '"><script>alert(1)</script>=cmd|calc',
    "message": "</textarea><svg onload=alert(1)>\r\nline two\u202e",
    "page_url": 'https://example.com/"><script>alert(2)</script>',
    "elapsed_ms": 5000,
    "trail": {"searches": [{"q": "<b>bold</b>", "results": 0}],
              "articles": [{"slug": '"><iframe src=//evil>', "title": "<script>x</script>",
                            "source": "search"}],
              "votes": [{"slug": "<u>u</u>", "helpful": False}]},
}


@pytest.fixture
def app_settings(make_settings):
    return make_settings(admin_password=PASSWORD)


@pytest.fixture
def anon(app_settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings), follow_redirects=False) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


@contextmanager
def admin_client(kb_dir: Path, data_dir: Path) -> Iterator[TestClient]:
    """The app over these folders (events kept ten years, so seeded months stay), logged in
    as the admin; closed on leaving."""
    settings = load_settings(overrides={"kb_dir": str(kb_dir), "data_dir": str(data_dir),
                                        "admin_password": PASSWORD,
                                        "events_retention_days": 3650},
                             config_file=None, environ={})
    with TestClient(create_app(settings), follow_redirects=False) as client:
        log_in(client)
        yield client


def log_in(client: TestClient) -> str:
    page = client.get("/admin/login")
    response = client.post("/admin/login", data={"csrf": csrf_of(page.text),
                                                 "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/admin/").text)


@pytest.fixture
def admin(anon: TestClient) -> TestClient:
    log_in(anon)
    return anon


def open_ticket(client: TestClient, body: dict) -> str:
    response = client.post("/api/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    return response.json()["reference"]


def test_every_admin_route_refuses_anonymous_requests(anon: TestClient) -> None:
    open_ticket(anon, {**HOSTILE, "trail": {}})
    reference = next(anon.app.state.services.tickets.iter_tickets())["reference"]  # type: ignore[attr-defined]
    checked = 0
    for route in anon.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, Route) or not route.path.startswith("/admin"):
            continue
        if route.path == "/admin/login":
            continue
        path = route.path.replace("{reference}", reference)
        for method in route.methods or ():
            if method == "HEAD":
                continue
            response = anon.request(method, path, data={"body": "x", "status": "closed"})
            checked += 1
            if method == "GET":
                assert response.status_code in {303, 307}, path
                assert response.headers["location"].startswith(("/admin/login", "/admin/"))
            else:
                assert response.status_code in {401, 403}, (method, path)
    assert checked >= 7
    ticket = anon.app.state.services.tickets.get(reference)  # type: ignore[attr-defined]
    assert ticket["status"] == "new" and len(ticket["thread"]) == 1


def test_admin_disabled_without_a_password(make_settings) -> None:
    with TestClient(create_app(make_settings())) as client:
        page = client.get("/admin/")
        assert page.status_code == 503
        assert "DESKBELL_ADMIN_PASSWORD" in page.text
        assert client.post("/admin/login", data={"password": ""}).status_code == 503


def test_login_wrong_password_and_cookie_flags(anon: TestClient) -> None:
    page = anon.get("/admin/login")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    wrong = anon.post("/admin/login", data={"csrf": csrf_of(page.text), "password": "nope"})
    assert wrong.status_code == 401 and "Wrong name, password or code" in wrong.text
    ok = anon.post("/admin/login", data={"csrf": csrf_of(page.text), "password": PASSWORD})
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert anon.get("/admin/").status_code == 200


def test_login_without_its_csrf_cookie_is_refused(app_settings) -> None:
    with TestClient(create_app(app_settings), follow_redirects=False) as client:
        response = client.post("/admin/login", data={"csrf": "guess", "password": PASSWORD})
        assert response.status_code == 403


def test_login_is_rate_limited(anon: TestClient) -> None:
    token = csrf_of(anon.get("/admin/login").text)
    codes = [anon.post("/admin/login", data={"csrf": token, "password": "x"}).status_code
             for _ in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/admin",
                                    "/\\evil.example", "/kb/"])
def test_next_only_goes_to_local_admin_paths(anon: TestClient, target: str) -> None:
    token = csrf_of(anon.get("/admin/login").text)
    response = anon.post("/admin/login", data={"csrf": token, "password": PASSWORD,
                                               "next": target})
    assert response.headers["location"] == "/admin/"


def test_forms_need_the_session_csrf_token(admin: TestClient) -> None:
    reference = open_ticket(admin, {**HOSTILE, "trail": {}})
    refused = admin.post(f"/admin/tickets/{reference}/status", data={"status": "closed"})
    assert refused.status_code == 403
    refused = admin.post(f"/admin/tickets/{reference}/status",
                         data={"status": "closed", "csrf": "forged"})
    assert refused.status_code == 403
    assert admin.app.state.services.tickets.get(reference)["status"] == "new"  # type: ignore[attr-defined]


def test_hostile_text_is_shown_as_text(admin: TestClient) -> None:
    reference = open_ticket(admin, HOSTILE)
    for path in ["/admin/", f"/admin/tickets/{reference}"]:
        html = admin.get(path).text
        # The page's one script is our own static file (the presence line); nothing else.
        tags = [(t, a) for t, a in elements(html)
                if (t, a.get("src")) != ("script", "/static/admin-presence.js")]
        names = {t for t, _ in tags}
        assert not names & {"script", "img", "svg", "iframe", "b", "u"}, path
        assert not any(k.startswith("on") for _, attrs in tags for k in attrs), path
        assert "&lt;script&gt;" in html or "&lt;img" in html
    page = admin.get(f"/admin/tickets/{reference}").text
    links = [a.get("href") for t, a in elements(page) if t == "a"]
    assert "/kb/%22%3E%3Ciframe%20src%3D//evil%3E" in links
    assert "<bdi>&lt;img src=x onerror=alert(1)&gt;\u202eevil</bdi>" in page
    assert "<textarea" in page and page.count("</textarea>") == page.count("<textarea")


def test_ticket_page_shows_the_trail(admin: TestClient) -> None:
    trail = {"page_url": "https://shop.example.com/login",
             "searches": [{"q": "reset password", "results": 0, "at": "2026-11-23T10:00:00Z"}],
             "articles": [{"slug": "account/reset-password", "title": "Reset your password",
                           "source": "search"}],
             "votes": [{"slug": "account/reset-password", "helpful": False}]}
    reference = open_ticket(admin, {**HOSTILE, "name": "Ana", "page_url": None, "trail": trail})
    page = admin.get(f"/admin/tickets/{reference}").text
    assert "reset password" in page and "0 results" in page
    assert 'href="/kb/account/reset-password"' in page
    assert "not helpful" in page and "https://shop.example.com/login" in page


def test_reply_note_and_status(admin: TestClient) -> None:
    created = admin.post("/api/v1/tickets", json={**HOSTILE, "trail": {}}).json()
    reference = created["reference"]
    token = csrf_of(admin.get(f"/admin/tickets/{reference}").text)
    base = f"/admin/tickets/{reference}"
    assert admin.post(f"{base}/note", data={"csrf": token, "body": "internal only"}
                      ).status_code == 303
    assert admin.post(f"{base}/reply", data={"csrf": token, "body": "Fixed now",
                                             "status": "solved"}).status_code == 303
    ticket = admin.app.state.services.tickets.get(reference)  # type: ignore[attr-defined]
    assert ticket["status"] == "solved" and ticket["first_reply_at"]
    assert [e["author"] for e in ticket["thread"]] == ["visitor", "note", "agent"]
    assert admin.post(f"{base}/status", data={"csrf": token, "status": "bogus"}
                      ).status_code == 422
    assert admin.post(f"{base}/status", data={"csrf": token, "status": "closed"}
                      ).status_code == 303
    visitor = admin.get(f"/api/v1/tickets/{reference}",
                        headers={"Authorization": f"Bearer {created['token']}"}).json()
    assert "internal only" not in str(visitor) and visitor["status"] == "closed"


def test_inbox_filters_sorts_and_counts(admin: TestClient) -> None:
    state = admin.app.state.services  # type: ignore[attr-defined]
    refs = [open_ticket(admin, {**HOSTILE, "subject": f"Topic {i}", "trail": {}})
            for i in range(3)]
    state.helpdesk.set_status(refs[1], "solved")
    page = admin.get("/admin/?status=new&sort=newest").text
    assert page.index("Topic 2") < page.index("Topic 0") and "Topic 1" not in page
    assert admin.get("/admin/?q=topic%201").text.count("Topic 1") == 1
    assert "Topic 0" not in admin.get("/admin/?q=topic%201").text


def test_secret_key_file_is_private(admin: TestClient, app_settings) -> None:
    key = Path(app_settings.data_dir) / "secret_key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_a_full_disk_in_the_admin_is_told_plainly_and_changes_nothing(
        admin: TestClient, monkeypatch, caplog) -> None:
    reference = open_ticket(admin, {**HOSTILE, "trail": {}})
    token = csrf_of(admin.get(f"/admin/tickets/{reference}").text)

    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(durable.os, "write", full)
    refused = admin.post(f"/admin/tickets/{reference}/reply",
                         data={"csrf": token, "body": "Fixed now", "status": "solved"})
    monkeypatch.undo()
    assert refused.status_code == 507
    assert "out of disk space" in refused.text and "p000001.json" not in refused.text
    assert "p000001.json" in caplog.text  # the operator's log names the file
    ticket = admin.app.state.services.tickets.get(reference)  # type: ignore[attr-defined]
    assert ticket["status"] == "new" and len(ticket["thread"]) == 1


def test_a_corrupt_store_in_the_admin_is_told_plainly(admin: TestClient) -> None:
    reference = open_ticket(admin, {**HOSTILE, "trail": {}})
    token = csrf_of(admin.get(f"/admin/tickets/{reference}").text)
    for damaged in (Path(admin.app.state.services.settings.data_dir) / "tickets").rglob(  # type: ignore[attr-defined]
            "*.json"):
        damaged.write_text("{not json")
    for response in (admin.get("/admin/"), admin.get(f"/admin/tickets/{reference}"),
                     admin.post(f"/admin/tickets/{reference}/status",
                                data={"csrf": token, "status": "closed"})):
        assert response.status_code == 503
        assert "cannot be saved right now" in response.text and ".bak" not in response.text


def test_a_hostile_ticket_answered_by_the_admin_drafts_as_text(admin: TestClient) -> None:
    reference = open_ticket(admin, HOSTILE)
    base = f"/admin/tickets/{reference}"
    token = csrf_of(admin.get(base).text)
    assert "Draft an article" not in admin.get(base).text  # new: nothing to quote yet
    assert admin.post(f"{base}/reply", data={"csrf": token, "body": "Refunds <b>take</b> 5 "
                                             "days.", "status": "solved"}).status_code == 303
    page = admin.get(base).text
    assert "Draft an article" in page
    forms = [a.get("action") for t, a in elements(page) if t == "form"]
    assert f"/admin/tickets/{reference}/draft" in forms
    draft = admin.post(f"{base}/draft", data={"csrf": token})
    assert draft.status_code == 200, draft.text
    _, front, body = draft.text.split("---\n", 2)
    data = yaml.safe_load(front)  # the subject is YAML data, escaped wherever it is shown
    assert data["title"] == '"><Script>alert(1)</script>=cmd|calc' and data["draft"] is True
    assert "<" not in body.replace("&lt;", "")  # markdown that renders as text
    assert "> &lt;/textarea&gt;&lt;svg onload=alert(1)&gt;  \n> line two" in body
    assert "> Refunds &lt;b&gt;take&lt;/b&gt; 5 days." in body
    assert "x@example.com" not in draft.text and "onerror" not in draft.text  # name redacted
