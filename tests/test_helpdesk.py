"""The helpdesk's use cases over every store: what visitors and agents can do to a ticket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from widget_server.errors import Conflict, NotFound, ValidationFailed
from widget_server.events import EventStore
from widget_server.helpdesk import Helpdesk
from widget_server.settings import load_settings
from widget_server.tickets import TicketStore

FORM = {"name": "Ana", "email": "ana@example.com", "subject": "Printer",
        "message": "It jams.", "elapsed_ms": 5000}


def desk(store: TicketStore, **settings: Any) -> Helpdesk:
    return Helpdesk(store, load_settings(overrides=settings, config_file=None, environ={}))


def test_opening_a_ticket_stores_it_and_hands_out_its_token(ticket_store: TicketStore) -> None:
    helpdesk = desk(ticket_store)
    opened = helpdesk.open_ticket(FORM)
    assert opened.answer()["status"] == "new" and opened.notice is None
    ticket = helpdesk.visitor_ticket(opened.reference, opened.token)
    assert ticket["subject"] == "Printer" and ticket["created_at"] == opened.created_at
    with pytest.raises(NotFound):
        helpdesk.visitor_ticket(opened.reference, "x" * 43)
    with pytest.raises(ValidationFailed):
        helpdesk.open_ticket({**FORM, "email": "not an address"})
    assert ticket_store.count() == 1


def test_a_bot_filling_the_hidden_field_is_told_yes_and_stores_nothing(
        ticket_store: TicketStore) -> None:
    opened = desk(ticket_store).open_ticket({**FORM, "website": "http://spam.example"})
    assert opened.reference.startswith("DB-") and len(opened.token) >= 43
    assert ticket_store.count() == 0


def test_a_new_ticket_is_recorded_with_its_session_and_category(ticket_store: TicketStore,
                                                                tmp_path: Path) -> None:
    events = EventStore(tmp_path / "events")
    helpdesk = Helpdesk(ticket_store, load_settings(config_file=None, environ={}), events,
                        category_of=lambda slug: {"account/reset": "Account"}.get(slug, ""))
    trail = {"session": "s_" + "b" * 22, "articles": [
        {"slug": "account/reset", "title": "Reset", "source": "search"}]}
    opened = helpdesk.open_ticket({**FORM, "trail": trail})
    [event] = [e for e in events.iter_events(None, None) if e["type"] == "ticket_created"]
    assert event["data"] == {"reference": opened.reference, "category": "Account"}
    assert ticket_store.get(opened.reference)["category"] == "Account"  # type: ignore[index]


def test_replies_statuses_and_ratings_follow_the_ticket_lifecycle(
        ticket_store: TicketStore) -> None:
    helpdesk = desk(ticket_store)
    ref = helpdesk.open_ticket(FORM).reference
    replied = helpdesk.agent_reply(ref, "Try this")
    assert replied.ticket["status"] == "pending" and replied.ticket["first_reply_at"]
    assert replied.entry["author_name"] == "Help Center"
    ticket = helpdesk.add_note(ref, "internal")
    assert ticket["first_reply_at"] == ticket["thread"][1]["at"]
    with pytest.raises(Conflict):
        helpdesk.rate(ref, {"csat": 5})
    helpdesk.set_status(ref, "solved")
    assert helpdesk.rate(ref, {"csat": 4, "ces": 2})["resolution"] == 1
    with pytest.raises(Conflict):
        helpdesk.rate(ref, {"csat": 5})
    helpdesk.visitor_reply(ref, "Broken again")
    assert ticket_store.get(ref)["status"] == "open"  # type: ignore[index]
    helpdesk.set_status(ref, "solved")
    assert helpdesk.rate(ref, {"csat": 5})["resolution"] == 2
    helpdesk.set_status(ref, "closed")
    with pytest.raises(Conflict):
        helpdesk.visitor_reply(ref, "hello?")
    with pytest.raises(NotFound):
        helpdesk.set_status("DB-0000-0000-0000", "open")


@pytest.mark.parametrize("use", ["set_status", "agent_reply"])
def test_an_unknown_status_is_refused_the_same_way_everywhere(ticket_store: TicketStore,
                                                              use: str) -> None:
    helpdesk = desk(ticket_store)
    ref = helpdesk.open_ticket(FORM).reference
    with pytest.raises(ValidationFailed) as caught:
        if use == "set_status":
            helpdesk.set_status(ref, "done")
        else:
            helpdesk.agent_reply(ref, "Fixed", status="done")
    assert caught.value.message == "status: must be one of new, open, pending, solved, closed"
    ticket = ticket_store.get(ref)
    assert ticket is not None and ticket["status"] == "new" and len(ticket["thread"]) == 1


def test_an_agent_reply_prepares_the_visitors_notice_only_when_mail_is_set_up(
        ticket_store: TicketStore) -> None:
    quiet = desk(ticket_store)
    ref = quiet.open_ticket(FORM).reference
    assert quiet.agent_reply(ref, "One").notice is None
    mailing = desk(ticket_store, smtp_host="127.0.0.1", notify_email="owner@example.com")
    assert mailing.open_ticket(FORM).notice["To"] == "owner@example.com"  # type: ignore[index]
    notice = mailing.agent_reply(ref, "Two", status="solved", author_name="Bo").notice
    assert notice is not None and notice["To"] == "ana@example.com"
    assert "Two" not in notice.get_content()  # fixed text and a link, never what was typed


def test_erasing_removes_one_persons_tickets(ticket_store: TicketStore) -> None:
    helpdesk = desk(ticket_store)
    helpdesk.open_ticket(FORM)
    keep = helpdesk.open_ticket({**FORM, "email": "stay@example.com"}).reference
    assert helpdesk.erase("ANA@example.com") == 1
    assert [t["reference"] for t in ticket_store.iter_tickets()] == [keep]
