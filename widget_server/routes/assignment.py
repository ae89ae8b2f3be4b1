"""Working a ticket as a team: who it is assigned to, and who else has it open.

    POST /admin/tickets/{ref}/assign    (owner, agent) `agent`: the id of an active agent who
                                        may reply ("Take it" sends your own), or "" to unassign
    GET  /admin/tickets/{ref}/presence  (any role) who else viewed the ticket in the last 30 s,
                                        as JSON; polling it marks you as viewing (presence.py)

An assignment is kept on the ticket (`assignee`, `assigned_at`, and a line of its history),
recorded in the audit log, and emailed to the new assignee when someone else gave it to
them and they have an address (`deskbell agents set-email`), after the answer is sent.
"""

from __future__ import annotations

from functools import partial

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .. import mail
from ..errors import NotFound
from ..services import services
from ..team import REPLY
from ..team.presence import viewing_line
from .auth import NO_STORE, Session, actor_of, admin_form, admin_page
from .tickets import in_store


@admin_form(REPLY)
async def assign(request: Request, session: Session, form: FormData) -> Response:
    reference = request.path_params["reference"]
    state = services(request)
    chosen = str(form.get("agent") or "").strip()
    assignee = None
    if chosen:
        assignee = next((a for a in await run_in_threadpool(state.team.assignable)
                         if a.id == chosen), None)
        if assignee is None:
            raise NotFound(f"No active agent {chosen[:40]!r} who may reply")
    me = session.agent
    done = await in_store(partial(state.helpdesk.assign, by=me.id, by_name=me.display_name,
                                  assignee_name=assignee.display_name if assignee else None),
                          reference, assignee.id if assignee else None)
    response = RedirectResponse(str(request.url_for("admin_ticket", reference=reference)), 303,
                                headers=NO_STORE)
    if not done.changed:
        return response
    await run_in_threadpool(state.team.record, actor_of(request, session),
                            "ticket.assigned" if assignee else "ticket.unassigned", reference,
                            assignee=assignee.name if assignee else None)
    if assignee is not None and assignee.id != me.id and assignee.email \
            and mail.enabled(state.settings):
        notice = mail.assignment_message(state.settings, done.ticket, assignee.email,
                                         me.display_name)
        response.background = BackgroundTask(state.helpdesk.notify, notice)
    return response


@admin_page
async def presence(request: Request, session: Session) -> Response:
    reference = request.path_params["reference"]
    state = services(request)
    if len(reference) > 40:
        raise NotFound(f"No ticket {reference[:40]}")
    state.presence.saw(reference, session.agent.id, session.agent.display_name)
    others = state.presence.others(reference, session.agent.id)
    return JSONResponse({"others": others, "line": viewing_line(others)}, headers=NO_STORE)


ROUTES: list[BaseRoute] = [
    Route("/admin/tickets/{reference}/assign", assign, methods=["POST"], name="admin_assign"),
    Route("/admin/tickets/{reference}/presence", presence, methods=["GET"],
          name="admin_presence"),
]
