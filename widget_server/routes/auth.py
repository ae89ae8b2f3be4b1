"""Admin access as decorators, so no admin handler repeats the guard.

    @admin_page            a page: 503 page when nobody can sign in, a redirect to the sign-in
                           for anonymous visitors; the handler gets the session
    @admin_form            a form post: 403 without a session or with a CSRF token that does
                           not match it; the handler gets the session and the form
    @admin_page(MANAGE)    the same, and 403 unless the agent's role has the permission
    @admin_form(REPLY)     (READ: any role, the default; REPLY: owner and agent; MANAGE: owner)

The session (team.AdminSession) names the request's agent: `session.agent` is the Agent (id,
name, display_name, role), `session.csrf` its CSRF token; `request.state.session` holds the
same for code that only has the request (current_agent). Both answer with no-store headers;
admin pages are never cached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, overload
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..errors import Forbidden
from ..security import SESSION_COOKIE, csrf_matches, safe_next
from ..services import services
from ..team import READ, Actor, AdminSession, Agent
from .common import client_ip, render

NO_STORE = {"cache-control": "no-store"}
Session = AdminSession
PageHandler = Callable[[Request, Session], Awaitable[Response]]
FormHandler = Callable[[Request, Session, FormData], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
ROLE_NAMES = {"read": "any role", "reply": "the owner or agent role",
              "manage": "the owner role"}


def render_admin(request: Request, name: str, context: dict[str, Any],
                 status: int = 200) -> Response:
    session = getattr(request.state, "session", None)
    if session is not None:
        context = {"me": session.agent, "csrf": session.csrf, **context}
    return render(request, name, context, status, NO_STORE)


def disabled(request: Request) -> Response:
    return render_admin(request, "admin/disabled.html", {}, 503)


async def session_of(request: Request) -> Session | None:
    """The live session of the request's cookie (looked up in the team store), else None;
    kept on request.state.session."""
    team = services(request).team
    token = request.cookies.get(SESSION_COOKIE)
    session = await run_in_threadpool(team.resolve, token) if token else None
    request.state.session = session
    return session


def current_agent(request: Request) -> Agent | None:
    """The agent of an admin request the decorators let through (None elsewhere)."""
    session: Session | None = getattr(request.state, "session", None)
    return session.agent if session is not None else None


def actor_of(request: Request, session: Session) -> Actor:
    """The session's agent from the request's address, for the audit log."""
    return Actor(session.agent.name, session.agent.id, client_ip(request))


def require(session: Session, permission: str) -> None:
    if not session.can(permission):
        raise Forbidden(f"This needs {ROLE_NAMES.get(permission, permission)}; you are "
                        f"{session.agent.role}")


def _login_redirect(request: Request) -> Response:
    here = request.url.path + ("?" + request.url.query if request.url.query else "")
    return RedirectResponse(f"/admin/login?next={quote(safe_next(here))}", 303,
                            headers=NO_STORE)


def _page(handler: PageHandler, permission: str) -> Endpoint:
    @wraps(handler)
    async def guarded(request: Request) -> Response:
        team = services(request).team
        if not await run_in_threadpool(team.enabled):
            return disabled(request)
        session = await session_of(request)
        if session is None:
            return _login_redirect(request)
        require(session, permission)
        return await handler(request, session)
    return guarded


def _form(handler: FormHandler, permission: str) -> Endpoint:
    @wraps(handler)
    async def guarded(request: Request) -> Response:
        session = await session_of(request)
        if session is None:
            raise Forbidden("Log in to the admin first")
        form = await request.form()
        if not csrf_matches(session.csrf, form.get("csrf")):
            raise Forbidden("The form expired or did not come from this admin; reload and retry")
        require(session, permission)
        return await handler(request, session, form)
    return guarded


@overload
def admin_page(handler: PageHandler) -> Endpoint: ...
@overload
def admin_page(handler: str = READ) -> Callable[[PageHandler], Endpoint]: ...
def admin_page(handler: PageHandler | str = READ) -> Endpoint | Callable[[PageHandler], Endpoint]:
    if isinstance(handler, str):
        permission = handler
        return lambda h: _page(h, permission)
    return _page(handler, READ)


@overload
def admin_form(handler: FormHandler) -> Endpoint: ...
@overload
def admin_form(handler: str = READ) -> Callable[[FormHandler], Endpoint]: ...
def admin_form(handler: FormHandler | str = READ) -> Endpoint | Callable[[FormHandler], Endpoint]:
    if isinstance(handler, str):
        permission = handler
        return lambda h: _form(h, permission)
    return _form(handler, READ)


__all__ = ["NO_STORE", "actor_of", "admin_form", "admin_page", "current_agent", "disabled", "render_admin",
           "require", "session_of"]
