"""The visitor's tickets API: open a ticket, read it with its token, reply, rate.

Thin over widget_server.tickets: this module checks origin, rate limit, spam traps and
the Bearer token, runs the blocking store calls in a thread, and queues email after the
ticket is on disk.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .. import mail
from ..errors import (
    DeskbellError,
    InsufficientStorage,
    NotFound,
    StorageUnavailable,
    Unauthorized,
)
from ..events import SESSION_RE
from ..security import LOOKUP_FAIL_RATE, limiter
from ..ticket_storage import CorruptStore, StoreFull, StoreUnwritable
from ..tickets import (
    Ticket,
    TicketStore,
    can_rate,
    clean_new_ticket,
    clean_rating,
    clean_text,
    is_spam_trap,
    new_reference,
    new_ticket,
    now_iso,
    token_matches,
)
from .common import check_origin, client_ip, read_json, reject_unknown

NO_STORE = {"cache-control": "no-store"}
log = logging.getLogger("deskbell.tickets")
T = TypeVar("T")


async def in_store(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking store call in a thread. Disk trouble is logged in full for the operator
    and answered to the visitor without file paths."""
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


def store_of(request: Request) -> TicketStore:
    store: TicketStore | None = getattr(request.app.state, "tickets", None)
    if store is None:
        raise StorageUnavailable("the ticket store is not available")
    return store


def _category(request: Request, trail: dict[str, Any]) -> str:
    """Category of the last article the visitor opened, if the knowledge base knows it."""
    articles = trail.get("articles") or []
    search = getattr(request.app.state, "search", None)
    if not articles or search is None:
        return ""
    try:
        meta = search.live_catalog.get(articles[-1].get("slug", ""), {})
    except Exception:  # the index may be rebuilding; a category is a nicety, not a requirement
        return ""
    return str(meta.get("category") or "")


async def create(request: Request) -> JSONResponse:
    check_origin(request)
    settings = request.app.state.settings
    limiter(request.app.state, "tickets", settings.ticket_rate_limit).hit(client_ip(request))
    body = await read_json(request)
    if is_spam_trap(body):
        # Look exactly like success so the bot learns nothing; store nothing.
        fake = {"reference": new_reference(), "token": secrets.token_urlsafe(32),
                "status": "new", "created_at": now_iso()}
        return JSONResponse(fake, 201, headers=NO_STORE)
    fields = clean_new_ticket(body)
    ticket, token = new_ticket(fields, _category(request, fields["trail"]))
    await in_store(store_of(request).add, ticket)
    await run_in_threadpool(_record_event, request, ticket)
    task = None
    if mail.enabled(settings):
        task = BackgroundTask(mail.send, settings, mail.new_ticket_message(settings, ticket))
    answer = {"reference": ticket["reference"], "token": token, "status": ticket["status"],
              "created_at": ticket["created_at"]}
    return JSONResponse(answer, 201, headers=NO_STORE, background=task)


def _record_event(request: Request, ticket: Ticket) -> None:
    """A `ticket_created` event ties the ticket to the help session for the insights.

    The ticket is already safe on disk; an event that cannot be written is logged, not fatal.
    """
    events = getattr(request.app.state, "events", None)
    if events is None:
        return
    session = ticket["trail"].get("session") or None
    session = session if session and SESSION_RE.fullmatch(session) else None
    data = {"reference": ticket["reference"], "category": ticket["category"]}
    try:
        events.append(session, "ticket_created", data)
    except (DeskbellError, OSError) as exc:
        log.warning("ticket %s stored, but its event was not: %s", ticket["reference"], exc)


async def _authorized(request: Request) -> Ticket:
    """The ticket named in the path, if the Bearer token opens it; one 404 for every miss."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send the ticket's token as Authorization: Bearer <token>",
                           headers={"WWW-Authenticate": "Bearer"})
    guard = limiter(request.app.state, "ticket-lookup", LOOKUP_FAIL_RATE)
    guard.check(client_ip(request))
    reference = request.path_params["reference"]
    ticket = await in_store(store_of(request).get, reference)
    if not token_matches(ticket, token.strip()) or ticket is None:
        guard.hit(client_ip(request))  # only misses count: a guesser is stopped, a visitor not
        raise NotFound("No ticket with this reference and token")
    return ticket


def visitor_view(ticket: Ticket) -> dict[str, Any]:
    thread = [{k: e[k] for k in ("author", "author_name", "body", "at")}
              for e in ticket["thread"] if e["author"] in {"visitor", "agent"}]
    rating = ticket["ratings"][-1] if ticket["ratings"] else None
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
    data = await read_json(request)
    reject_unknown(data, {"body"})
    body = clean_text(data.get("body"), "body", 1, 10000, multiline=True)
    _, entry = await in_store(
        store_of(request).reply, ticket["reference"], "visitor", ticket["name"], body)
    shown = {k: entry[k] for k in ("author", "author_name", "body", "at")}
    return JSONResponse(shown, 201, headers=NO_STORE)


async def rate(request: Request) -> JSONResponse:
    check_origin(request)
    ticket = await _authorized(request)
    rating = clean_rating(await read_json(request))
    stored = await in_store(store_of(request).rate, ticket["reference"], rating)
    return JSONResponse(stored, 201, headers=NO_STORE)


ROUTES = [
    Route("/api/v1/tickets", create, methods=["POST"]),
    Route("/api/v1/tickets/{reference}", show, methods=["GET"]),
    Route("/api/v1/tickets/{reference}/messages", message, methods=["POST"]),
    Route("/api/v1/tickets/{reference}/rating", rate, methods=["POST"]),
]
