"""The admin inbox: login, ticket list, one ticket with its self-service trail, replies, notes,
and an answered ticket as a knowledge-base draft to download (insights/drafts.py ticket_draft).

Beside a ticket, the articles that may answer it: the visitors' own search (the same ranking,
never recorded as a visitor's search) on the ticket's subject, or on what the agent types,
each marked when the visitor already read it. "Insert link" and "Insert quote" post the reply
being written to /compose, which gives the page back with the link or the quoted passage
appended to it: no script, and nothing is sent or stored until "Send reply".

Every page except the login refuses anonymous requests: pages redirect to the login, form
posts answer 403. Every form carries the session's CSRF token; the login form, which has no
session yet, uses a double-submit cookie. No GET changes anything.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..articles import article_path
from ..attachments import Upload
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..helpdesk import StaleReply
from ..insights.drafts import ticket_draft, ticket_draftable
from ..markup import html_to_text
from ..security import SESSION_COOKIE, safe_next
from ..services import services
from ..team import REPLY, LoginRefused
from ..team.presence import viewing_line
from ..team.service import DEVICE_DAYS
from ..tickets import STATUSES, SummaryQuery
from ..tickets.model import seen_mark
from .attachments import admin_upload
from .auth import NO_STORE, Session, admin_form, admin_page, disabled, render_admin
from .common import client_ip
from .discovery import absolute
from .tickets import in_store

LOGIN_CSRF_COOKIE = "deskbell_login_csrf"
INBOX_PAGE = 200


def _cookie_args(request: Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "strict", "path": "/admin",
            "secure": request.url.scheme == "https"}


# ---------------------------------------------------------------- login / logout


DEVICE_COOKIE = "deskbell_device"


def _login_form(request: Request, csrf: str, next_path: str, error: str = "",
                name: str = "", status: int = 200) -> Response:
    return render_admin(request, "admin/login.html",
                        {"csrf": csrf, "next": next_path, "error": error, "name": name,
                         "login_page": True}, status)


async def login_page(request: Request) -> Response:
    if not await run_in_threadpool(services(request).team.enabled):
        return disabled(request)
    token = secrets.token_urlsafe(32)
    response = _login_form(request, token, safe_next(request.query_params.get("next")))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, **_cookie_args(request))
    return response


def _field(form: FormData, name: str, longest: int = 1024) -> str:
    value = form.get(name)
    return value[:longest] if isinstance(value, str) else ""


async def login(request: Request) -> Response:
    """Sign in with a name (empty: "owner"), a password and, when the agent turned two-step
    sign-in on, a code; every attempt is limited per address, failures per account too
    (team/service.py), and recorded in the audit log."""
    state = services(request)
    team = state.team
    if not await run_in_threadpool(team.enabled):
        return disabled(request)
    ip = client_ip(request)
    state.limits.admin_login.hit(ip)
    form = await request.form()
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    submitted = form.get("csrf")
    if not cookie or not isinstance(submitted, str) or not secrets.compare_digest(
            cookie.encode(), submitted.encode()):
        raise Forbidden("The login form expired; reload the page and try again")
    next_path = safe_next(_field(form, "next"))
    name = _field(form, "name", 80).strip()
    try:
        signed = await run_in_threadpool(
            team.sign_in, name, _field(form, "password"), _field(form, "code", 40), ip,
            request.headers.get("user-agent", ""), request.cookies.get(DEVICE_COOKIE))
    except LoginRefused as refused:
        return _login_form(request, cookie, next_path, refused.message, name, 401)
    response = RedirectResponse(next_path, 303, headers=NO_STORE)
    response.set_cookie(SESSION_COOKIE, signed.token,
                        max_age=state.settings.session_max_hours * 3600,
                        **_cookie_args(request))
    response.set_cookie(DEVICE_COOKIE, signed.device, max_age=DEVICE_DAYS * 86400,
                        **{**_cookie_args(request), "path": "/admin/login"})
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin")
    return response


@admin_form
async def logout(request: Request, session: Session, form: FormData) -> Response:
    await run_in_threadpool(services(request).team.sign_out, session, client_ip(request))
    response = RedirectResponse("/admin/login", 303, headers=NO_STORE)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


# ---------------------------------------------------------------- inbox


ASSIGNED = {"mine": "Mine", "none": "Unassigned"}  # the inbox's ?assigned= filters


@admin_page
async def index(request: Request, session: Session) -> Response:
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    text = request.query_params.get("q", "")[:200]
    sort = "newest" if request.query_params.get("sort") == "newest" else "oldest"
    assigned = request.query_params.get("assigned", "")
    assigned = assigned if assigned in ASSIGNED else ""
    assignee = {"mine": session.agent.id, "none": ""}.get(assigned)
    query = SummaryQuery(status, text, newest_first=(sort == "newest"), limit=INBOX_PAGE,
                         assignee=assignee)
    state = services(request)
    page = await in_store(state.tickets.summaries, query)
    names = {a.id: a.display_name for a in await run_in_threadpool(state.team.agents)}
    context = {"csrf": session.csrf, "status": status, "q": text, "sort": sort,
               "statuses": STATUSES, "counts": page.counts, "total": page.total,
               "matched": page.matched, "tickets": page.items, "assigned": assigned,
               "assigned_filters": ASSIGNED, "names": names}
    return render_admin(request, "admin/inbox.html", context)


async def redirect_to_inbox(request: Request) -> Response:
    return RedirectResponse("/admin/", 307)


# ---------------------------------------------------------------- one ticket


KB_SUGGESTIONS = 5
MAX_REPLY = 10000
MAX_QUOTE = 4000  # of an internal article's text


@admin_page
async def internal_article(request: Request, session: Session) -> Response:
    """An agents-only article (`audience: internal`), rendered for the logged-in agent."""
    slug = request.path_params["slug"].strip("/")
    article = await run_in_threadpool(services(request).internal.get, slug)
    if article is None:
        raise NotFound(f"No internal article {slug!r}")
    return render_admin(request, "admin/internal_article.html", {"article": article})


@dataclass(frozen=True)
class Suggestion:
    """An article that may answer the ticket, as the agent's side panel shows it."""

    slug: str
    title: str
    url: str  # absolute: it goes into a reply the visitor reads in an email
    summary: str
    read: bool  # the visitor opened it before writing
    quote: str  # the passage "Insert quote" adds: the section search quoted, or the summary
    internal: bool = False  # agents only: quoted without a link the visitor could not open


async def _suggestions(request: Request, ticket: dict[str, Any],
                       query: str) -> tuple[list[Suggestion], str]:
    """The articles search finds for `query` in the ticket's language; and a note when
    search cannot answer (no index yet), so the page still opens."""
    state = services(request)
    service = state.search
    if not query:
        return [], "Type what the visitor needs to find articles."
    if not service.ready():
        return [], "Search is not available yet: run deskbell reindex."
    found = await service.call(service.search, query, KB_SUGGESTIONS, ticket.get("locale"))
    read = {str(a.get("slug")) for a in (ticket.get("trail") or {}).get("articles") or []}
    answer = found.answer
    suggestions = []
    for hit in found.hits:
        quote = (html_to_text(answer.html)[0] if answer is not None and answer.slug == hit.slug
                 else hit.summary)
        suggestions.append(Suggestion(hit.slug, hit.title,
                                      absolute(state.settings, article_path(hit.slug)),
                                      hit.summary, hit.slug in read, quote))
    for article in await run_in_threadpool(state.internal.search, query, KB_SUGGESTIONS):
        suggestions.append(Suggestion(article.slug, article.title,
                                      str(request.url_for("admin_internal", slug=article.slug)),
                                      article.summary, False, article.text[:MAX_QUOTE], True))
    return suggestions, "" if suggestions else f"No article matches “{query}”."


def _kb_query(ticket: dict[str, Any], asked: str | None) -> str:
    text = (asked if asked is not None else str(ticket.get("subject") or "")).strip()
    return " ".join(text.split())[:200]


@dataclass(frozen=True)
class _Beside:
    """A ticket and the articles its side panel shows for the agent's search."""

    ticket: dict[str, Any]
    kb_q: str
    suggestions: list[Suggestion]
    kb_note: str


async def _beside(request: Request, reference: str, asked: str | None) -> _Beside:
    ticket = await in_store(services(request).tickets.get, reference)
    if ticket is None:
        raise NotFound(f"No ticket {reference}")
    kb_q = _kb_query(ticket, asked)
    return _Beside(ticket, kb_q, *await _suggestions(request, ticket, kb_q))


def timeline(ticket: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The thread's messages and the history's status changes and assignments, in time
    order: ("entry", message) or ("event", change); a change made with a message follows it."""
    items = [("entry", e) for e in ticket["thread"]] + [
        ("event", h) for h in ticket.get("history") or []]
    return sorted(items, key=lambda item: str(item[1].get("at") or ""))


async def _ticket_view(request: Request, session: Session, shown: _Beside,
                       reply_body: str = "", stale: bool = False) -> Response:
    ticket = shown.ticket
    state = services(request)
    state.presence.saw(ticket["reference"], session.agent.id, session.agent.display_name)
    agents = await run_in_threadpool(state.team.agents)
    context = {"csrf": session.csrf, "ticket": ticket, "statuses": STATUSES,
               "can_reply": session.can(REPLY),
               "trail": ticket.get("trail") or {}, "draftable": ticket_draftable(ticket),
               "kb_q": shown.kb_q, "suggestions": shown.suggestions, "kb_note": shown.kb_note,
               "reply_body": reply_body, "timeline": timeline(ticket),
               "seen": seen_mark(ticket), "stale": stale,
               "names": {a.id: a.display_name for a in agents},
               "assignable": [a for a in agents if a.can(REPLY)],
               "viewing": viewing_line(state.presence.others(ticket["reference"],
                                                             session.agent.id))}
    return render_admin(request, "admin/ticket.html", context, 409 if stale else 200)


@admin_page
async def ticket_page(request: Request, session: Session) -> Response:
    shown = await _beside(request, request.path_params["reference"],
                          request.query_params.get("kb"))
    return await _ticket_view(request, session, shown)


@admin_form(REPLY)
async def compose(request: Request, session: Session, form: FormData) -> Response:
    """The ticket page again, the reply being written with an article's link or quoted
    passage appended (`insert`: "link:<slug>" or "quote:<slug>"). Nothing is stored."""
    reference = request.path_params["reference"]
    body, insert, asked = (str(form.get(k) or "") for k in ("body", "insert", "kb"))
    kind, _, slug = insert.partition(":")
    if kind not in {"link", "quote"} or not slug:
        raise BadRequest("insert must be link:<slug> or quote:<slug>")
    shown = await _beside(request, reference, asked)
    chosen = next((s for s in shown.suggestions if s.slug == slug), None)
    if chosen is None:
        raise BadRequest(f"No suggested article {slug!r}: search again and pick one of the list")
    if kind == "link" and chosen.internal:
        raise BadRequest(f"{slug!r} is internal: the visitor cannot open it; insert a quote")
    if kind == "link":
        added = f"{chosen.title}: {chosen.url}"
    elif chosen.internal:  # the words, without the link or any sign of where they came from
        added = chosen.quote.strip()
    else:
        quoted = "\n".join(f"> {line}" if line else ">" for line in chosen.quote.splitlines())
        added = f"{quoted}\n({chosen.title}: {chosen.url})"
    joined = f"{body.rstrip()}\n\n{added}\n" if body.strip() else f"{added}\n"
    if len(joined) > MAX_REPLY:
        raise BadRequest(f"The reply would be longer than {MAX_REPLY} characters with it")
    return await _ticket_view(request, session, shown, joined)


def _back(request: Request, reference: str) -> RedirectResponse:
    target = request.app.url_path_for("admin_ticket", reference=reference)
    return RedirectResponse(str(target), 303, headers=NO_STORE)


@admin_upload
async def reply(request: Request, session: Session, form: Mapping[str, str],
                files: list[Upload]) -> Response:
    reference = request.path_params["reference"]
    state = services(request)
    helpdesk, agent = state.helpdesk, session.agent
    seen = form.get("seen") or ""
    try:
        replied = await in_store(partial(
            helpdesk.agent_reply, files=files, agent=agent.id, agent_name=agent.display_name,
            seen=int(seen) if seen.isdigit() else None), reference, form.get("body"),
            form.get("status") or None, state.team.signature(agent))
    except StaleReply:
        # Nothing was sent: the page again, with what came since and the draft kept; its
        # form now carries the new mark, so sending again (having read it) goes through.
        shown = await _beside(request, reference, form.get("kb") or None)
        return await _ticket_view(request, session, shown, str(form.get("body") or ""),
                                  stale=True)
    response = _back(request, reference)
    if replied.notice is not None:
        response.background = BackgroundTask(helpdesk.notify, replied.notice)
    return response


@admin_form(REPLY)
async def note(request: Request, session: Session, form: FormData) -> Response:
    reference = request.path_params["reference"]
    await in_store(partial(services(request).helpdesk.add_note, agent=session.agent.id,
                           agent_name=session.agent.display_name), reference, form.get("body"))
    return _back(request, reference)


@admin_form(REPLY)
async def accept_held(request: Request, session: Session, form: FormData) -> Response:
    """A held email (from an address other than the visitor's) becomes the visitor's message."""
    reference = request.path_params["reference"]
    await in_store(services(request).helpdesk.accept_held, reference, form.get("entry"))
    return _back(request, reference)


@admin_form(REPLY)
async def set_status(request: Request, session: Session, form: FormData) -> Response:
    reference = request.path_params["reference"]
    await in_store(partial(services(request).helpdesk.set_status, agent=session.agent.id,
                           agent_name=session.agent.display_name),
                   reference, form.get("status"))
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
    Route("/admin/tickets/{reference}/compose", compose, methods=["POST"],
          name="admin_compose"),
    Route("/admin/kb/{slug:path}", internal_article, methods=["GET"], name="admin_internal"),
    Route("/admin/tickets/{reference}/note", note, methods=["POST"], name="admin_note"),
    Route("/admin/tickets/{reference}/accept", accept_held, methods=["POST"],
          name="admin_accept_held"),
    Route("/admin/tickets/{reference}/status", set_status, methods=["POST"],
          name="admin_status"),
    Route("/admin/tickets/{reference}/draft", draft, methods=["POST"],
          name="admin_ticket_draft"),
]
