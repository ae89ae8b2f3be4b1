"""The visitor's tickets API: open a ticket, read it with its token, reply, rate.

Thin over widget_server.helpdesk: this module checks origin, rate limits and the Bearer
token, runs the blocking use cases in a thread (translating disk trouble for the caller),
and sends the prepared email after the answer is out. The admin routes share `in_store`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .. import identity
from ..errors import InsufficientStorage, NotFound, StorageUnavailable, Unauthorized
from ..schemas import IDENTITY, MESSAGE
from ..services import services
from ..tickets import CorruptStore, StoreFull, StoreUnwritable, Ticket, can_rate
from .attachments import read_message, shown_files
from .common import check_origin, client_ip, read_json

NO_STORE = {"cache-control": "no-store"}
log = logging.getLogger("deskbell.tickets")
T = TypeVar("T")


async def in_store(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking store call in a thread. Disk trouble is logged in full for the operator
    and answered without file paths (to visitors and in the admin alike)."""
    try:
        return await run_in_threadpool(fn, *args)
    except StoreFull as exc:
        log.error("ticket store: %s", exc.message)
        raise InsufficientStorage("The server is out of disk space; nothing was saved. "
                                  "Please try again later.") from None
    except (StoreUnwritable, CorruptStore) as exc:
        log.error("ticket store: %s", exc.message)
        raise StorageUnavailable("Tickets cannot be saved right now; nothing was saved. "
                                 "Please try again later.") from None


async def create(request: Request) -> JSONResponse:
    check_origin(request)
    services(request).limits.tickets.hit(client_ip(request))
    body, files = await read_message(request)
    helpdesk = services(request).helpdesk
    opened = await in_store(helpdesk.open_ticket, body, files)
    task = BackgroundTask(helpdesk.notify, opened.notice) if opened.notice else None
    return JSONResponse(opened.answer(), 201, headers=NO_STORE, background=task)


async def _authorized(request: Request) -> Ticket:
    """The ticket named in the path, if the Bearer token opens it or the signed visitor in
    `Authorization: Identity <claim>` owns it; one 404 for every miss, whatever its cause."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    credential, scheme = credential.strip(), scheme.lower()
    if scheme not in {"bearer", "identity"} or not credential:
        raise Unauthorized("Send the ticket's token as Authorization: Bearer <token> (or a "
                           "signed identity as Authorization: Identity <claim>)",
                           headers={"WWW-Authenticate": "Bearer"})
    guard = services(request).limits.ticket_lookup
    guard.check(client_ip(request))
    reference = request.path_params["reference"]
    helpdesk = services(request).helpdesk
    try:
        if scheme == "bearer":
            return await in_store(helpdesk.visitor_ticket, reference, credential)
        visitor = identity.from_header(helpdesk.settings.identity_secret, credential)
        if visitor is None:
            raise NotFound("No ticket with this reference and token")
        return await in_store(helpdesk.signed_ticket, reference, visitor)
    except NotFound:
        guard.hit(client_ip(request))  # only misses count: a guesser is stopped, a visitor not
        raise


async def signed_tickets(request: Request) -> JSONResponse:
    """The tickets of the visitor the page signed (Deskbell('identify', ...)): any device, no
    token. A claim that does not verify gets exactly the answer no identity gets."""
    check_origin(request)
    claim = IDENTITY.validate(await read_json(request))["identity"]
    guard = services(request).limits.ticket_lookup
    guard.check(client_ip(request))
    helpdesk = services(request).helpdesk
    visitor = helpdesk.identify(claim)
    if visitor is None:
        if claim.get("signature"):
            guard.hit(client_ip(request))  # a signature that fails counts as a guess
        return JSONResponse({"verified": False, "tickets": []}, headers=NO_STORE)
    tickets = await in_store(helpdesk.tickets_of, visitor)
    return JSONResponse({"verified": True, "tickets": tickets}, headers=NO_STORE)


def shown_entry(reference: str, entry: dict[str, Any]) -> dict[str, Any]:
    """A message as the visitor sees it (its files listed only when it has some)."""
    shown = {k: entry[k] for k in ("author", "author_name", "body", "at")}
    if entry.get("attachments"):
        shown["attachments"] = shown_files(reference, entry)
    return shown


def shown_rating(rating: dict[str, Any]) -> dict[str, Any]:
    """A rating as the visitor sees it: without the agent it counts for."""
    return {k: v for k, v in rating.items() if k != "agent_id"}


def visitor_view(ticket: Ticket) -> dict[str, Any]:
    thread = [shown_entry(ticket["reference"], e)
              for e in ticket["thread"] if e["author"] in {"visitor", "agent"}]
    rating = shown_rating(ticket["ratings"][-1]) if ticket["ratings"] else None
    return {"reference": ticket["reference"], "subject": ticket["subject"],
            "status": ticket["status"], "created_at": ticket["created_at"],
            "updated_at": ticket["updated_at"], "thread": thread,
            "can_rate": can_rate(ticket), "rating": rating}


async def show(request: Request) -> JSONResponse:
    ticket = await _authorized(request)
    return JSONResponse(visitor_view(ticket), headers=NO_STORE)


async def message(request: Request) -> JSONResponse:
    check_origin(request)
    ticket = await _authorized(request)
    body, files = await read_message(request)
    data = MESSAGE.validate(body)
    entry = await in_store(services(request).helpdesk.visitor_reply, ticket["reference"],
                           data.get("body"), files)
    return JSONResponse(shown_entry(ticket["reference"], entry), 201, headers=NO_STORE)


async def rate(request: Request) -> JSONResponse:
    check_origin(request)
    ticket = await _authorized(request)
    body = await read_json(request)
    stored = await in_store(services(request).helpdesk.rate, ticket["reference"], body)
    return JSONResponse(shown_rating(stored), 201, headers=NO_STORE)


ROUTES = [
    Route("/api/v1/tickets", create, methods=["POST"]),
    Route("/api/v1/identity/tickets", signed_tickets, methods=["POST"]),
    Route("/api/v1/tickets/{reference}", show, methods=["GET"]),
    Route("/api/v1/tickets/{reference}/messages", message, methods=["POST"]),
    Route("/api/v1/tickets/{reference}/rating", rate, methods=["POST"]),
]
