"""Admin access as two decorators, so no admin handler repeats the guard.

    @admin_page   a page: 503 page when no admin password is set, a redirect to the login
                  for anonymous visitors; the handler gets the session
    @admin_form   a form post: 403 without a session or with a CSRF token that does not
                  match it; the handler gets the session and the form

Both answer with no-store headers; admin pages are never cached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..errors import Forbidden
from ..security import SESSION_COOKIE, csrf_matches, safe_next
from ..services import services
from .common import render

NO_STORE = {"cache-control": "no-store"}
Session = dict[str, Any]
PageHandler = Callable[[Request, Session], Awaitable[Response]]
FormHandler = Callable[[Request, Session, FormData], Awaitable[Response]]


def render_admin(request: Request, name: str, context: dict[str, Any],
                 status: int = 200) -> Response:
    return render(request, name, context, status, NO_STORE)


def disabled(request: Request) -> Response:
    return render_admin(request, "admin/disabled.html", {}, 503)


def session_of(request: Request) -> Session | None:
    return services(request).admin.session(request.cookies.get(SESSION_COOKIE))


def _login_redirect(request: Request) -> Response:
    here = request.url.path + ("?" + request.url.query if request.url.query else "")
    return RedirectResponse(f"/admin/login?next={quote(safe_next(here))}", 303,
                            headers=NO_STORE)


def admin_page(handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
    @wraps(handler)
    async def guarded(request: Request) -> Response:
        if not services(request).admin.enabled:
            return disabled(request)
        session = session_of(request)
        if session is None:
            return _login_redirect(request)
        return await handler(request, session)
    return guarded


def admin_form(handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
    @wraps(handler)
    async def guarded(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            raise Forbidden("Log in to the admin first")
        form = await request.form()
        if not csrf_matches(session, form.get("csrf")):
            raise Forbidden("The form expired or did not come from this admin; reload and retry")
        return await handler(request, session, form)
    return guarded


__all__ = ["NO_STORE", "admin_form", "admin_page", "disabled", "render_admin", "session_of"]
