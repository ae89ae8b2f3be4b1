"""Every TicketStore keeps the protocol's promises: run once per store kind (see conftest)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from widget_server.errors import NotFound
from widget_server.schemas import NEW_TICKET
from widget_server.settings import SettingsError, load_settings
from widget_server.tickets import (
    SummaryQuery,
    Ticket,
    TicketStore,
    new_ticket,
    set_status,
    token_matches,
)


def make(store: TicketStore, email: str = "ana@example.com", subject: str = "Printer",
         **changes: Any) -> tuple[Ticket, str]:
    fields = NEW_TICKET.validate({"name": "Ana", "email": email, "subject": subject,
                               "message": "It jams.\nEvery time.", **changes})
    ticket, token = new_ticket(fields)
    return store.add(ticket), token


def test_a_stored_ticket_reads_back_whole_and_opens_with_its_token(
        ticket_store: TicketStore) -> None:
    ticket, token = make(ticket_store)
    again = ticket_store.get(ticket["reference"])
    assert again == ticket
    assert token_matches(again, token) and not token_matches(again, "x" * 43)


@pytest.mark.parametrize("reference", ["DB-0000-0000-0000", "", "x" * 100, None, 7])
def test_an_unknown_reference_is_none(ticket_store: TicketStore, reference: Any) -> None:
    make(ticket_store)
    assert ticket_store.get(reference) is None


def test_references_are_unique_and_a_taken_one_is_renewed(ticket_store: TicketStore) -> None:
    refs = [make(ticket_store)[0]["reference"] for _ in range(20)]
    assert len(set(refs)) == 20
    assert all(len(r) == 17 and r.startswith("DB-") for r in refs)
    twin, _ = new_ticket(NEW_TICKET.validate({"name": "Bo", "email": "bo@example.com",
                                           "subject": "Twin", "message": "Same ref"}))
    twin["reference"] = refs[0]
    assert ticket_store.add(twin)["reference"] != refs[0]
    assert ticket_store.get(refs[0])["subject"] == "Printer"  # type: ignore[index]
    assert ticket_store.count() == 21


def test_what_a_caller_reads_is_a_copy(ticket_store: TicketStore) -> None:
    ticket, _ = make(ticket_store)
    ticket["subject"] = "changed after add"
    read = ticket_store.get(ticket["reference"])
    assert read is not None
    read["thread"].append({"body": "changed after get"})
    next(ticket_store.iter_tickets())["status"] = "closed"
    stored = ticket_store.get(ticket["reference"])
    assert stored is not None
    assert (stored["subject"], len(stored["thread"]), stored["status"]) == ("Printer", 1, "new")


def test_update_stores_the_change_and_returns_its_result(ticket_store: TicketStore) -> None:
    reference = make(ticket_store)[0]["reference"]

    def solve(ticket: Ticket) -> str:
        set_status(ticket, "solved")
        return "done"

    ticket, result = ticket_store.update(reference, solve)
    assert result == "done" and ticket["status"] == "solved"
    assert ticket_store.get(reference)["resolution_count"] == 1  # type: ignore[index]
    with pytest.raises(NotFound):
        ticket_store.update("DB-0000-0000-0000", solve)


def test_a_change_that_fails_stores_nothing(ticket_store: TicketStore) -> None:
    reference = make(ticket_store)[0]["reference"]

    def half_done(ticket: Ticket) -> None:
        ticket["status"] = "closed"
        raise ValueError("refused midway")

    with pytest.raises(ValueError):
        ticket_store.update(reference, half_done)
    assert ticket_store.get(reference)["status"] == "new"  # type: ignore[index]


def test_tickets_come_back_oldest_first(ticket_store: TicketStore) -> None:
    subjects = [f"S{i}" for i in range(12)]
    for subject in subjects:
        make(ticket_store, subject=subject)
    assert [t["subject"] for t in ticket_store.iter_tickets()] == subjects
    assert ticket_store.count() == 12


def test_summaries_filter_search_order_and_page(ticket_store: TicketStore) -> None:
    refs = [make(ticket_store, subject=f"Topic {i}", email=f"p{i}@example.com")[0]["reference"]
            for i in range(5)]
    ticket_store.update(refs[1], lambda t: set_status(t, "solved"))
    everything = ticket_store.summaries(SummaryQuery())
    assert everything.total == everything.matched == 5
    assert everything.counts == {"new": 4, "open": 0, "pending": 0, "solved": 1, "closed": 0}
    assert [s["subject"] for s in everything.items] == [f"Topic {i}" for i in range(5)]
    assert "token_hash" not in everything.items[0] and "thread" not in everything.items[0]
    new = ticket_store.summaries(SummaryQuery(status="new", newest_first=True, limit=2))
    assert new.matched == 4 and [s["subject"] for s in new.items] == ["Topic 4", "Topic 3"]
    found = ticket_store.summaries(SummaryQuery(text="P3@EXAMPLE"))
    assert [s["reference"] for s in found.items] == [refs[3]] and found.total == 5


def test_erasing_an_email_removes_only_its_tickets(ticket_store: TicketStore) -> None:
    for i in range(7):
        make(ticket_store, email="Gone@Example.com" if i % 2 else "stay@example.com",
             subject=f"S{i}")
    assert ticket_store.erase_email(" gone@example.COM ") == 3
    assert [t["subject"] for t in ticket_store.iter_tickets()] == ["S0", "S2", "S4", "S6"]
    assert ticket_store.erase_email("gone@example.com") == 0
    assert ticket_store.summaries(SummaryQuery(text="gone")).matched == 0


def test_concurrent_writers_lose_nothing(ticket_store: TicketStore) -> None:
    reference = make(ticket_store)[0]["reference"]

    def note(i: int) -> None:
        ticket_store.update(reference, lambda t: t["thread"].append({"body": f"n{i}"}))
        make(ticket_store, subject=f"w{i}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(note, range(40)))
    ticket = ticket_store.get(reference)
    assert ticket is not None and len(ticket["thread"]) == 41
    assert ticket_store.count() == 41


@pytest.mark.parametrize("kind", ["postgres", "postgresql:/x", "JSON ", "tinydb", ""])
def test_an_unknown_store_kind_is_refused_naming_the_setting(kind: str) -> None:
    with pytest.raises(SettingsError, match="ticket_store.*json.*memory"):
        load_settings(overrides={"ticket_store": kind}, config_file=None, environ={})
    with pytest.raises(SettingsError, match="DESKBELL_TICKET_STORE"):
        load_settings(config_file=None, environ={"DESKBELL_TICKET_STORE": kind})
