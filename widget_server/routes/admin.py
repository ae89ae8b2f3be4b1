"""The admin inbox: login, ticket list, one ticket with its self-service trail, replies, notes,
and an answered ticket as a knowledge-base draft to download (insights/drafts.py ticket_draft).

Every page except the login refuses anonymous requests: pages redirect to the login, form
posts answer 403. Every form carries the session's CSRF token; the login form, which has no
session yet, uses a double-submit cookie. No GET changes anything.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import Conflict, Forbidden, NotFound
from ..insights.drafts import ticket_draft, ticket_draftable
from ..security import SESSION_COOKIE, SESSION_SECONDS, safe_next
from ..services import services
from ..tickets import STATUSES, SummaryQuery
from .auth import NO_STORE, Session, admin_form, admin_page, disabled, render_admin
from .common import client_ip
from .tickets import in_store

LOGIN_CSRF_COOKIE = "deskbell_login_csrf"
INBOX_PAGE = 200


def _cookie_args(request: Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "strict", "path": "/admin",
            "secure": request.url.scheme == "https"}


# ---------------------------------------------------------------- login / logout


async def login_page(request: Request) -> Response:
    if not services(request).admin.enabled:
        return disabled(request)
    token = secrets.token_urlsafe(32)
    next_path = safe_next(request.query_params.get("next"))
    response = render_admin(request, "admin/login.html",
                       {"csrf": token, "next": next_path, "error": "", "login_page": True})
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, **_cookie_args(request))
    return response


async def login(request: Request) -> Response:
    admin = services(request).admin
    if not admin.enabled:
        return disabled(request)
    services(request).limits.admin_login.hit(client_ip(request))
    form = await request.form()
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    submitted = form.get("csrf")
    if not cookie or not isinstance(submitted, str) or not secrets.compare_digest(
            cookie.encode(), submitted.encode()):
        raise Forbidden("The login form expired; reload the page and try again")
    password = form.get("password")
    next_path = safe_next(str(form.get("next") or ""))
    ok = isinstance(password, str) and await run_in_threadpool(admin.password.verify, password)
    if not ok:
        context = {"csrf": cookie, "next": next_path, "error": "Wrong password.",
                   "login_page": True}
        return render_admin(request, "admin/login.html", context, 401)
    response = RedirectResponse(next_path, 303, headers=NO_STORE)
    response.set_cookie(SESSION_COOKIE, admin.new_cookie(),
                        max_age=SESSION_SECONDS, **_cookie_args(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin")
    return response


@admin_form
async def logout(request: Request, session: Session, form: FormData) -> Response:
    response = RedirectResponse("/admin/login", 303, headers=NO_STORE)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


# ---------------------------------------------------------------- inbox


@admin_page
async def index(request: Request, session: Session) -> Response:
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    text = request.query_params.get("q", "")[:200]
    sort = "newest" if request.query_params.get("sort") == "newest" else "oldest"
    query = SummaryQuery(status, text, newest_first=(sort == "newest"), limit=INBOX_PAGE)
    page = await in_store(services(request).tickets.summaries, query)
    context = {"csrf": session["csrf"], "status": status, "q": text, "sort": sort,
               "statuses": STATUSES, "counts": page.counts, "total": page.total,
               "matched": page.matched, "tickets": page.items}
    return render_admin(request, "admin/inbox.html", context)


async def redirect_to_inbox(request: Request) -> Response:
    return RedirectResponse("/admin/", 307)


# ---------------------------------------------------------------- one ticket


@admin_page
async def ticket_page(request: Request, session: Session) -> Response:
    reference = request.path_params["reference"]
    ticket = await in_store(services(request).tickets.get, reference)
    if ticket is None:
        raise NotFound(f"No ticket {reference}")
    context = {"csrf": session["csrf"], "ticket": ticket, "statuses": STATUSES,
               "trail": ticket.get("trail") or {}, "draftable": ticket_draftable(ticket)}
    return render_admin(request, "admin/ticket.html", context)


def _back(request: Request, reference: str) -> RedirectResponse:
    target = request.app.url_path_for("admin_ticket", reference=reference)
    return RedirectResponse(str(target), 303, headers=NO_STORE)


@admin_form
async def reply(request: Request, session: Session, form: FormData) -> Response:
    reference = request.path_params["reference"]
    helpdesk = services(request).helpdesk
    replied = await in_store(helpdesk.agent_reply, reference, form.get("body"),
                             form.get("status") or None)
    response = _back(request, reference)
    if replied.notice is not None:
        response.background = BackgroundTask(helpdesk.notify, replied.notice)
    return response


@admin_form
async def note(request: Request, session: Session, form: FormData) -> Response:
    reference = request.path_params["reference"]
    await in_store(services(request).helpdesk.add_note, reference, form.get("body"))
    return _back(request, reference)


@admin_form
async def set_status(request: Request, session: Session, form: FormData) -> Response:
    reference = request.path_params["reference"]
    await in_store(services(request).helpdesk.set_status, reference, form.get("status"))
    return _back(request, reference)


@admin_form
async def draft(request: Request, session: Session, form: FormData) -> Response:
    """A solved or closed ticket with an agent's reply as a markdown draft (draft: true),
    downloaded as <slug>.md: the visitor's question and the answer, personal data removed.
    Nothing is written on the server. Conflict (409) for a ticket not answered that way."""
    reference = request.path_params["reference"]
    state = services(request)
    ticket = await in_store(state.tickets.get, reference)
    if ticket is None:
        raise NotFound(f"No ticket {reference}")
    if not ticket_draftable(ticket):
        raise Conflict("Only a solved or closed ticket with an agent's reply can become a "
                       "draft: answer it first")
    taken = {name for slug, meta in state.search.live_catalog.items()
             for name in (slug, *meta.get("aliases", ()))}
    made = ticket_draft(ticket, taken)
    return Response(made.text, media_type="text/markdown; charset=utf-8", headers={
        **NO_STORE, "content-disposition": f'attachment; filename="{made.filename}"'})


ROUTES: list[BaseRoute] = [
    Route("/admin", redirect_to_inbox, methods=["GET"]),
    Route("/admin/", index, methods=["GET"], name="admin_inbox"),
    Route("/admin/login", login_page, methods=["GET"], name="admin_login"),
    Route("/admin/login", login, methods=["POST"]),
    Route("/admin/logout", logout, methods=["POST"], name="admin_logout"),
    Route("/admin/tickets/{reference}", ticket_page, methods=["GET"], name="admin_ticket"),
    Route("/admin/tickets/{reference}/reply", reply, methods=["POST"], name="admin_reply"),
    Route("/admin/tickets/{reference}/note", note, methods=["POST"], name="admin_note"),
    Route("/admin/tickets/{reference}/status", set_status, methods=["POST"],
          name="admin_status"),
    Route("/admin/tickets/{reference}/draft", draft, methods=["POST"],
          name="admin_ticket_draft"),
]
