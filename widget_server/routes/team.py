"""The team in the admin: each agent's own account page, and the owner's team page.

    /admin/account             (any role) your sessions, sign out everywhere, two-step sign-in
    /admin/team                (owner) every agent with role and state, every open session,
                               disable or enable an agent, end any session

Agents are added, renamed in role and given new passwords with `deskbell agents` on the
server (README "Team"). Every change here is recorded in the audit log; nothing here reads or
changes the audit log itself.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import BadRequest
from ..security import SESSION_COOKIE
from ..services import services
from ..team import MANAGE
from .auth import NO_STORE, Session, actor_of, admin_form, admin_page, render_admin


def _text(form: FormData, name: str, longest: int = 64) -> str:
    value = form.get(name)
    return value.strip()[:longest] if isinstance(value, str) else ""


async def _account(request: Request, session: Session, **extra: object) -> Response:
    team = services(request).team
    agent = await run_in_threadpool(team.store.agent, session.agent.id) or session.agent
    mine = await run_in_threadpool(team.sessions, agent)
    return render_admin(request, "admin/account.html",
                        {"agent": agent, "sessions": mine, "current": session.handle,
                         "setup": None, "codes": None, **extra})


@admin_page
async def account(request: Request, session: Session) -> Response:
    return await _account(request, session)


@admin_form
async def sign_out_everywhere(request: Request, session: Session, form: FormData) -> Response:
    team = services(request).team
    await run_in_threadpool(team.sign_out_everywhere, session.agent, actor_of(request, session))
    response = RedirectResponse("/admin/login", 303, headers=NO_STORE)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


@admin_form
async def two_step_start(request: Request, session: Session, form: FormData) -> Response:
    state = services(request)
    setup = await run_in_threadpool(state.team.totp_begin, session.agent,
                                    state.settings.site_name)
    return await _account(request, session, setup=setup)


@admin_form
async def two_step_confirm(request: Request, session: Session, form: FormData) -> Response:
    team = services(request).team
    codes = await run_in_threadpool(team.totp_confirm, session.agent, _text(form, "code"),
                                    actor_of(request, session))
    return await _account(request, session, codes=codes)


@admin_form
async def two_step_off(request: Request, session: Session, form: FormData) -> Response:
    team = services(request).team
    await run_in_threadpool(team.totp_off, session.agent, actor_of(request, session),
                            _text(form, "code"))
    return RedirectResponse(str(request.url_for("admin_account")), 303, headers=NO_STORE)


@admin_page(MANAGE)
async def team_page(request: Request, session: Session) -> Response:
    team = services(request).team
    agents = await run_in_threadpool(team.agents)
    sessions = await run_in_threadpool(team.sessions, None)
    names = {a.id: a.name for a in agents}
    return render_admin(request, "admin/team.html",
                        {"agents": agents, "sessions": sessions, "names": names,
                         "current": session.handle})


def _back(request: Request) -> Response:
    return RedirectResponse(str(request.url_for("admin_team")), 303, headers=NO_STORE)


@admin_form(MANAGE)
async def end_session(request: Request, session: Session, form: FormData) -> Response:
    team = services(request).team
    await run_in_threadpool(team.end_session, _text(form, "session"),
                            actor_of(request, session))
    return _back(request)


@admin_form(MANAGE)
async def agent_state(request: Request, session: Session, form: FormData) -> Response:
    """Disable (its sessions end at once) or enable an agent."""
    action = _text(form, "action")
    if action not in {"disable", "enable"}:
        raise BadRequest("action must be disable or enable")
    team = services(request).team
    await run_in_threadpool(team.set_disabled, _text(form, "agent"), action == "disable",
                            actor_of(request, session))
    return _back(request)


ROUTES: list[BaseRoute] = [
    Route("/admin/account", account, methods=["GET"], name="admin_account"),
    Route("/admin/account/sign-out-everywhere", sign_out_everywhere, methods=["POST"],
          name="admin_sign_out_everywhere"),
    Route("/admin/account/two-step", two_step_start, methods=["POST"],
          name="admin_two_step"),
    Route("/admin/account/two-step/confirm", two_step_confirm, methods=["POST"],
          name="admin_two_step_confirm"),
    Route("/admin/account/two-step/off", two_step_off, methods=["POST"],
          name="admin_two_step_off"),
    Route("/admin/team", team_page, methods=["GET"], name="admin_team"),
    Route("/admin/team/sessions/end", end_session, methods=["POST"], name="admin_end_session"),
    Route("/admin/team/agents/state", agent_state, methods=["POST"], name="admin_agent_state"),
]
