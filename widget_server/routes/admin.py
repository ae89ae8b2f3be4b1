"""The admin inbox: login, ticket list, one ticket with its self-service trail, replies, notes.

Every page except the login refuses anonymous requests: pages redirect to the login, form
posts answer 403. Every form carries the session's CSRF token; the login form, which has no
session yet, uses a double-submit cookie. No GET changes anything.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import Forbidden, NotFound
from ..security import (
    LOGIN_RATE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    AdminPassword,
    csrf_matches,
    limiter,
    load_secret_key,
    new_session,
    safe_next,
    sign,
    unsign,
)
from ..tickets import STATUSES, SummaryQuery
from .common import client_ip
from .tickets import helpdesk_of, in_store, store_of

LOGIN_CSRF_COOKIE = "deskbell_login_csrf"
NO_STORE = {"cache-control": "no-store"}
INBOX_PAGE = 200


# ---------------------------------------------------------------- auth plumbing


def _password(request: Request) -> AdminPassword:
    state = request.app.state
    if getattr(state, "admin_password", None) is None:
        state.admin_password = AdminPassword(state.settings.admin_password)
    password: AdminPassword = state.admin_password
    return password


def _key(request: Request) -> bytes:
    state = request.app.state
    if getattr(state, "admin_key", None) is None:
        state.admin_key = load_secret_key(state.settings.secret_key, state.settings.data_dir)
    key: bytes = state.admin_key
    return key


def _session(request: Request) -> dict[str, Any] | None:
    if not _password(request).enabled:
        return None
    return unsign(_key(request), request.cookies.get(SESSION_COOKIE))


def _cookie_args(request: Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "strict", "path": "/admin",
            "secure": request.url.scheme == "https"}


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status, headers=NO_STORE)


def _disabled(request: Request) -> Response:
    return _render(request, "admin/disabled.html", {}, 503)


def _login_redirect(request: Request) -> Response:
    target = quote(safe_next(request.url.path + ("?" + request.url.query
                                                 if request.url.query else "")))
    return RedirectResponse(f"/admin/login?next={target}", 303, headers=NO_STORE)


async def _form_with_csrf(request: Request) -> tuple[dict[str, Any], Any]:
    """The posted form, after checking there is a session and the CSRF token matches it."""
    session = _session(request)
    if session is None:
        raise Forbidden("Log in to the admin first")
    form = await request.form()
    if not csrf_matches(session, form.get("csrf")):
        raise Forbidden("The form expired or did not come from this admin; reload and retry")
    return session, form


# ---------------------------------------------------------------- login / logout


async def login_page(request: Request) -> Response:
    if not _password(request).enabled:
        return _disabled(request)
    token = secrets.token_urlsafe(32)
    next_path = safe_next(request.query_params.get("next"))
    response = _render(request, "admin/login.html",
                       {"csrf": token, "next": next_path, "error": "", "login_page": True})
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, **_cookie_args(request))
    return response


async def login(request: Request) -> Response:
    if not _password(request).enabled:
        return _disabled(request)
    limiter(request.app.state, "admin-login", LOGIN_RATE).hit(client_ip(request))
    form = await request.form()
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    submitted = form.get("csrf")
    if not cookie or not isinstance(submitted, str) or not secrets.compare_digest(
            cookie.encode(), submitted.encode()):
        raise Forbidden("The login form expired; reload the page and try again")
    password = form.get("password")
    next_path = safe_next(str(form.get("next") or ""))
    ok = isinstance(password, str) and await run_in_threadpool(_password(request).verify,
                                                               password)
    if not ok:
        context = {"csrf": cookie, "next": next_path, "error": "Wrong password.",
                   "login_page": True}
        return _render(request, "admin/login.html", context, 401)
    response = RedirectResponse(next_path, 303, headers=NO_STORE)
    response.set_cookie(SESSION_COOKIE, sign(_key(request), new_session()),
                        max_age=SESSION_SECONDS, **_cookie_args(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin")
    return response


async def logout(request: Request) -> Response:
    await _form_with_csrf(request)
    response = RedirectResponse("/admin/login", 303, headers=NO_STORE)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


# ---------------------------------------------------------------- inbox


async def index(request: Request) -> Response:
    if not _password(request).enabled:
        return _disabled(request)
    session = _session(request)
    if session is None:
        return _login_redirect(request)
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    text = request.query_params.get("q", "")[:200]
    sort = "newest" if request.query_params.get("sort") == "newest" else "oldest"
    query = SummaryQuery(status, text, newest_first=(sort == "newest"), limit=INBOX_PAGE)
    page = await in_store(store_of(request).summaries, query)
    context = {"csrf": session["csrf"], "status": status, "q": text, "sort": sort,
               "statuses": STATUSES, "counts": page.counts, "total": page.total,
               "matched": page.matched, "tickets": page.items}
    return _render(request, "admin/inbox.html", context)


async def redirect_to_inbox(request: Request) -> Response:
    return RedirectResponse("/admin/", 307)


# ---------------------------------------------------------------- one ticket


async def ticket_page(request: Request) -> Response:
    if not _password(request).enabled:
        return _disabled(request)
    session = _session(request)
    if session is None:
        return _login_redirect(request)
    reference = request.path_params["reference"]
    ticket = await in_store(store_of(request).get, reference)
    if ticket is None:
        raise NotFound(f"No ticket {reference}")
    context = {"csrf": session["csrf"], "ticket": ticket, "statuses": STATUSES,
               "trail": ticket.get("trail") or {}}
    return _render(request, "admin/ticket.html", context)


def _back(reference: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/tickets/{quote(reference)}", 303, headers=NO_STORE)


async def reply(request: Request) -> Response:
    _, form = await _form_with_csrf(request)
    reference = request.path_params["reference"]
    helpdesk = helpdesk_of(request)
    replied = await in_store(helpdesk.agent_reply, reference, form.get("body"),
                             form.get("status") or None)
    response = _back(reference)
    if replied.notice is not None:
        response.background = BackgroundTask(helpdesk.notify, replied.notice)
    return response


async def note(request: Request) -> Response:
    _, form = await _form_with_csrf(request)
    reference = request.path_params["reference"]
    await in_store(helpdesk_of(request).add_note, reference, form.get("body"))
    return _back(reference)


async def set_status(request: Request) -> Response:
    _, form = await _form_with_csrf(request)
    reference = request.path_params["reference"]
    await in_store(helpdesk_of(request).set_status, reference, form.get("status"))
    return _back(reference)


ROUTES: list[BaseRoute] = [
    Route("/admin", redirect_to_inbox, methods=["GET"]),
    Route("/admin/", index, methods=["GET"]),
    Route("/admin/login", login_page, methods=["GET"]),
    Route("/admin/login", login, methods=["POST"]),
    Route("/admin/logout", logout, methods=["POST"]),
    Route("/admin/tickets/{reference}", ticket_page, methods=["GET"]),
    Route("/admin/tickets/{reference}/reply", reply, methods=["POST"]),
    Route("/admin/tickets/{reference}/note", note, methods=["POST"]),
    Route("/admin/tickets/{reference}/status", set_status, methods=["POST"]),
]
