"""The helpdesk's use cases: open a ticket, visitor reply, agent reply, note, status, rating, erase.

Each use case validates its input, changes the ticket through the TicketStore, records the
event and prepares the email, so the visitor's API, the admin inbox and the `deskbell`
command all behave the same. Calls block (stores touch disks); the server runs them on a
worker thread. Email is prepared here but sent by the caller through `notify`, because only
the caller knows when: the server after its answer is out, the command before it exits.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cached_property
from typing import Any

from . import identity, mail
from .attachments import Attachments, Descriptor, Upload, descriptors_of
from .errors import Conflict, DeskbellError, Forbidden, NotFound
from .events import TICKET_CREATED, EventStore, is_session
from .events.recorder import SearchRecorder
from .identity import Identity
from .schemas import NEW_TICKET, RATING
from .security import load_secret_key
from .settings import Settings
from .tickets import model
from .tickets.model import Ticket
from .tickets.store import TicketStore
from .tickets.validation import MESSAGE_MAX, clean_email, clean_text, is_spam_trap

log = logging.getLogger("deskbell.tickets")


@dataclass(frozen=True)
class Opened:
    """A ticket just opened (or, for a bot, a believable imitation of one)."""

    reference: str
    token: str
    status: str
    created_at: str
    notice: EmailMessage | None = None

    def answer(self) -> dict[str, str]:
        return {"reference": self.reference, "token": self.token, "status": self.status,
                "created_at": self.created_at}


@dataclass(frozen=True)
class Replied:
    ticket: Ticket
    entry: dict[str, str]
    notice: EmailMessage | None = None


def _attribute(ticket: Ticket, entry: dict[str, Any] | None, agent: str | None,
               agent_name: str | None, moved: bool = False) -> None:
    """Who did it: the agent's id (and display name) on the thread entry, and on the ticket
    as `status_by` when the status was set (`moved`: a reply or a status change)."""
    if agent is None:
        return
    if entry is not None:
        entry["agent_id"] = agent
        if agent_name:
            entry["agent_name"] = agent_name
    if moved:
        ticket["status_by"] = agent


def _credit(ticket: Ticket, before: Ticket, agent: str | None, agent_name: str | None) -> None:
    """What an agent's change earns in the per-agent figures (README "Metrics"): the first
    reply (`first_reply_by`), the latest solve (`solved_by`); and the status change in the
    ticket's history. `before` holds the ticket's status, first_reply_at and solved_at
    before the change."""
    if agent is not None:
        if not before["first_reply_at"] and ticket.get("first_reply_at"):
            ticket["first_reply_by"] = agent
        if ticket.get("solved_at") != before["solved_at"]:
            ticket["solved_by"] = agent
    model.record_status(ticket, before["status"], agent, agent_name)


def _before(ticket: Ticket) -> Ticket:
    return {k: ticket.get(k) for k in ("status", "first_reply_at", "solved_at")}


@dataclass(frozen=True)
class Assigned:
    ticket: Ticket
    changed: bool  # False: the ticket already had this assignee (nothing stored)


class StaleReply(Conflict):
    """A reply written on an older view of the ticket: someone wrote since. Nothing is sent."""

    code = "stale_reply"

    def __init__(self, ticket: Ticket) -> None:
        super().__init__("New activity since you opened this ticket — read it, then send again")
        self.ticket = ticket


class Helpdesk:
    """The use cases over one store; `category_of(slug)` names an article's category."""

    def __init__(self, store: TicketStore, settings: Settings, events: EventStore | None = None,
                 category_of: Callable[[str], str] | None = None,
                 searches: SearchRecorder | None = None,
                 attachments: Attachments | None = None) -> None:
        self.store = store
        self.settings = settings
        self.attachments = attachments or Attachments.from_settings(settings)
        self.events = events
        self.category_of = category_of
        self.searches = searches

    # -- the visitor

    def open_ticket(self, body: Any, files: Sequence[Upload] = ()) -> Opened:
        """Validate, store (with `files` on the first message), record `ticket_created`,
        prepare the owner's notice."""
        if is_spam_trap(body):
            # Look exactly like success so the bot learns nothing; store nothing.
            return Opened(model.new_reference(), secrets.token_urlsafe(32), "new",
                          model.now_iso())
        fields = NEW_TICKET.validate(body)
        signed = self.identify(fields.pop("identity"))
        if signed is None and self.settings.identity_required:
            raise Forbidden("Please sign in on this site first: only signed-in visitors can "
                            "open a request here")
        if signed is not None and signed.user_id is None:
            fields["email"] = signed.email  # what the site vouched for, not what was typed
        ticket, token = model.new_ticket(fields, self._category(fields["trail"]))
        if signed is not None:
            ticket["user_id"] = signed.user_id
            ticket["signed_by"] = "user_id" if signed.user_id is not None else "email"
        return self._opened(ticket, token, files)

    def visitor_ticket(self, reference: str, token: str) -> Ticket:
        """The ticket if `token` opens it; one NotFound for a wrong token or reference."""
        ticket = self.store.get(reference)
        if not model.token_matches(ticket, token) or ticket is None:
            raise NotFound("No ticket with this reference and token")
        return ticket

    def identify(self, claim: Any) -> Identity | None:
        """The visitor `claim` proves, or None (for any failure: see identity.py)."""
        return identity.verify(self.settings.identity_secret, claim) if claim else None

    def tickets_of(self, visitor: Identity) -> list[dict[str, Any]]:
        """A signed visitor's own tickets, newest first, as the panel lists them."""
        rows = self.store.tickets_of(visitor.email, visitor.user_id)
        return [{k: row[k] for k in ("reference", "subject", "status", "created_at",
                                     "updated_at")} for row in rows]

    def signed_ticket(self, reference: str, visitor: Identity) -> Ticket:
        """The ticket if `visitor` owns it; the same NotFound as a wrong token otherwise."""
        ticket = self.store.get(reference)
        if ticket is None or not visitor.owns(ticket):
            raise NotFound("No ticket with this reference and token")
        return ticket

    def visitor_reply(self, reference: str, text: Any,
                      files: Sequence[Upload] = ()) -> dict[str, Any]:
        body = clean_text(text, "body", 1, MESSAGE_MAX, multiline=True)
        with self.attachments.saving(files) as saved:
            _, entry = self.store.update(
                reference, lambda t: self._reply(t, "visitor", t["name"], body, None, saved))
        return entry

    def rate(self, reference: str, body: Any) -> dict[str, Any]:
        """Store a rating; it counts for the ticket's assignee then, else for the agent who
        solved it (`agent_id` on the rating, never shown to the visitor)."""
        rating = RATING.validate(body)

        def rated(t: Ticket) -> dict[str, Any]:
            credited = t.get("assignee") or t.get("solved_by")
            return model.add_rating(t, {**rating, "agent_id": credited} if credited else rating)
        _, stored = self.store.update(reference, rated)
        return stored

    # -- the agent

    def agent_reply(self, reference: str, text: Any, status: Any = None,
                    author_name: str | None = None, field: str = "body",
                    files: Sequence[Upload] = (), agent: str | None = None,
                    agent_name: str | None = None, seen: int | None = None) -> Replied:
        """Reply as an agent (then the ticket waits on the visitor unless `status` says
        otherwise) and prepare the visitor's notice; `field` names the text in errors.
        `author_name` is what the visitor sees; `agent` and `agent_name`, the signed-in
        agent's id and display name, are kept on the entry (never shown to the visitor).
        `seen`: the ticket's seen_mark when the agent's page was drawn; StaleReply (nothing
        stored, nothing sent) when messages came since."""
        body = clean_text(text, field, 1, MESSAGE_MAX, multiline=True)
        chosen = model.parse_status(status) if status else None
        name = author_name or self.settings.site_name

        def reply(t: Ticket) -> dict[str, Any]:
            if seen is not None and model.seen_mark(t) > seen:
                raise StaleReply(t)
            before = _before(t)
            entry = self._reply(t, "agent", name, body, chosen, saved)
            _attribute(t, entry, agent, agent_name, moved=True)
            _credit(t, before, agent, agent_name)
            return entry
        with self.attachments.saving(files) as saved:
            ticket, entry = self.store.update(reference, reply)
        key = self.reply_key if mail.replies_enabled(self.settings) else None
        notice = (mail.agent_reply_message(self.settings, ticket, entry, key)
                  if mail.enabled(self.settings) else None)
        return Replied(ticket, entry, notice)

    def add_note(self, reference: str, text: Any, agent: str | None = None,
                 agent_name: str | None = None) -> Ticket:
        """An internal note: agents see it, the visitor never does."""
        body = clean_text(text, "body", 1, MESSAGE_MAX, multiline=True)

        def note(t: Ticket) -> None:
            _attribute(t, model.add_reply(t, "note", "Note", body), agent, agent_name)
        ticket, _ = self.store.update(reference, note)
        return ticket

    def set_status(self, reference: str, status: Any, agent: str | None = None,
                   agent_name: str | None = None) -> Ticket:
        """Set the status; `agent` (the signed-in agent's id) is kept as `status_by`."""
        chosen = model.parse_status(status)

        def change(t: Ticket) -> None:
            before = _before(t)
            model.set_status(t, chosen)
            _attribute(t, None, agent, None, moved=True)
            _credit(t, before, agent, agent_name)
        ticket, _ = self.store.update(reference, change)
        return ticket

    def assign(self, reference: str, assignee: str | None, by: str | None = None,
               by_name: str | None = None, assignee_name: str | None = None) -> Assigned:
        """Give the ticket to the agent `assignee` (an id the caller checked may reply), or
        to nobody (None); `by` is who did it (None: the command line). Recorded in the
        ticket's history; giving it to its current assignee changes nothing."""
        def change(t: Ticket) -> None:
            if (t.get("assignee") or None) == assignee:
                raise _Unchanged(t)  # raising, the store writes nothing
            model.assign(t, assignee, by, by_name, assignee_name)
        try:
            ticket, _ = self.store.update(reference, change)
        except _Unchanged as same:
            return Assigned(same.ticket, False)
        return Assigned(ticket, True)

    def erase(self, email: str) -> int:
        """Every ticket of one person, gone (a right-to-erasure request), with the files no
        other ticket holds; returns how many tickets."""
        wanted = email.strip().casefold()
        theirs = [d["sha256"] for t in self.store.iter_tickets()
                  if str(t.get("email", "")).casefold() == wanted for d in descriptors_of(t)]
        count = self.store.erase_email(email)
        self.attachments.remove_unreferenced(theirs, self.store.iter_tickets())
        return count

    def notify(self, notice: EmailMessage | None) -> bool:
        """Send a prepared notice; False (logged) when it could not be sent."""
        return mail.send(self.settings, notice)

    # -- email (mailin.py: replies and new requests that arrive by email)

    @cached_property
    def reply_key(self) -> bytes:
        """The key of reply addresses' tags: the one that signs the admin's cookies."""
        return load_secret_key(self.settings.secret_key, self.settings.data_dir)

    def mailed_reply(self, reference: str, text: str, sender: str, mail_id: str,
                     held: bool = False, files: Sequence[Upload] = ()) -> Replied:
        """A message by email onto a ticket: the visitor's (a closed ticket refuses it with
        Conflict), or `held` for an agent to accept when `sender` is not the ticket's
        address. One Message-ID (a relay's retry) is stored once, and notified once."""
        body = clean_text(text, "body", 1, MESSAGE_MAX, multiline=True)

        def change(t: Ticket) -> tuple[dict[str, Any], bool]:
            known = next((e for e in t["thread"] if mail_id and e.get("mail_id") == mail_id),
                         None)
            if known is not None:
                return known, False
            if held and t["status"] not in model.VISITOR_REPLY:
                raise Conflict("this ticket is closed; please open a new one")
            entry = self._reply(t, "held" if held else "visitor",
                                sender if held else t["name"], body, None, saved)
            entry["mail_id"] = mail_id
            return entry, True

        with self.attachments.saving(files) as saved:
            ticket, (entry, new) = self.store.update(reference, change)
        notice = (mail.visitor_mail_message(self.settings, ticket, entry, sender, held)
                  if new and mail.enabled(self.settings) else None)
        return Replied(ticket, entry, notice)

    def open_mailed_ticket(self, name: str, email: str, subject: str, message: str,
                           mail_id: str, files: Sequence[Upload] = ()) -> Opened:
        """A new request by email to the support address: no trail; the owner is notified."""
        fields = {"name": clean_text(name, "name", 1, 100), "email": clean_email(email),
                  "subject": clean_text(subject, "subject", 1, 200),
                  "message": clean_text(message, "message", 1, MESSAGE_MAX, multiline=True),
                  "page_url": "", "locale": "en", "trail": {}}
        ticket, token = model.new_ticket(fields)
        ticket["thread"][0]["mail_id"] = mail_id
        return self._opened(ticket, token, files)

    def accept_held(self, reference: str, entry_id: Any) -> Ticket:
        """A held email becomes the visitor's message (an agent vouched for its sender)."""
        ticket, _ = self.store.update(reference, lambda t: model.accept_held(t, str(entry_id)))
        return ticket

    # -- details

    def _opened(self, ticket: Ticket, token: str, files: Sequence[Upload]) -> Opened:
        """Store a new ticket with `files` on its first message (none stored if it fails),
        record `ticket_created`, prepare the owner's notice."""
        with self.attachments.saving(files) as saved:
            self.attachments.check_ticket(ticket, saved)
            if saved:
                ticket["thread"][0]["attachments"] = saved
            self.store.add(ticket)
        self._record_created(ticket)
        notice = (mail.new_ticket_message(self.settings, ticket)
                  if mail.enabled(self.settings) else None)
        return Opened(ticket["reference"], token, ticket["status"], ticket["created_at"],
                      notice)

    def _reply(self, ticket: Ticket, author: str, name: str, body: str, status: str | None,
               saved: list[Descriptor]) -> dict[str, Any]:
        self.attachments.check_ticket(ticket, saved)  # under the store's lock: counts are true
        return model.add_reply(ticket, author, name, body, status, saved)

    def _category(self, trail: dict[str, Any]) -> str:
        """Category of the last article the visitor opened, if the knowledge base knows it."""
        articles = trail.get("articles") or []
        if not articles or self.category_of is None:
            return ""
        try:
            return self.category_of(articles[-1].get("slug", ""))
        except Exception:  # the index may be rebuilding; a category is a nicety, not a need
            return ""

    def _record_created(self, ticket: Ticket) -> None:
        """A `ticket_created` event ties the ticket to the help session for the insights.

        The ticket is already stored; an event that cannot be written is logged, not fatal.
        """
        if self.events is None:
            return
        session = ticket["trail"].get("session") or None
        session = session if is_session(session) else None
        data = {"reference": ticket["reference"], "category": ticket["category"]}
        if self.searches is not None:
            self.searches.settle(session)
        try:
            self.events.append(session, TICKET_CREATED, data)
        except (DeskbellError, OSError) as exc:
            log.warning("ticket %s stored, but its event was not: %s", ticket["reference"], exc)


class _Unchanged(Exception):
    """Raised inside a store change that has nothing to store: the store writes nothing."""

    def __init__(self, ticket: Ticket) -> None:
        self.ticket = ticket


__all__ = ["Assigned", "Helpdesk", "Opened", "Replied", "StaleReply"]
