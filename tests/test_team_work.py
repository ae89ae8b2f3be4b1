"""Working a ticket as a team: assignment on every store and in the inbox, the assignee's
email at a real SMTP sink, `deskbell tickets assign`, who else is viewing, the reply held
back when the ticket moved on, the ticket's history, and the per-agent figures."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from starlette.testclient import TestClient

from cli.main import main
from widget_server.helpdesk import Helpdesk
from widget_server.insights.agents import agent_rows, from_rows
from widget_server.insights.report import build_report, load_report, to_jsonable
from widget_server.schemas import NEW_TICKET
from widget_server.settings import load_settings
from widget_server.team import AGENT, OWNER, READ_ONLY
from widget_server.team.store import open_team_store
from widget_server.tickets import SummaryQuery, TicketStore, new_ticket, open_ticket_store
from widget_server.tickets.model import assign
from widget_server.tickets.store import summarize

from . import test_mail
from .test_mail import Inbox, body_of
from .test_team import CLI, NAMES, open_ticket, sign_in_as, team_of, with_agents

smtp = test_mail.smtp

UTC_ZONE = ZoneInfo("UTC")


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def seen_in(html: str) -> str:
    found = re.search(r'name="seen" value="(\d+)"', html)
    assert found, "the reply form carries what the agent has seen"
    return found.group(1)


def agent_id(client: TestClient, role: str) -> str:
    return team_of(client).find(NAMES[role]).id


# ---------------------------------------------------------------- every store


def _add(store: TicketStore, subject: str) -> str:
    fields = NEW_TICKET.validate({"name": "Ana", "email": "ana@example.com",
                                  "subject": subject, "message": "It jams."})
    return str(store.add(new_ticket(fields)[0])["reference"])


def test_assignment_is_kept_and_filtered_by_every_store(ticket_store: TicketStore) -> None:
    refs = [_add(ticket_store, f"Printer {n}") for n in range(5)]
    ticket_store.update(refs[0], lambda t: assign(t, "a_ana", "a_bo", "Bo", "Ana"))
    ticket_store.update(refs[1], lambda t: assign(t, "a_bo", "a_bo", "Bo", "Bo"))
    ticket_store.update(refs[2], lambda t: assign(t, "a_ana", None, "cli", "Ana"))
    ticket_store.update(refs[2], lambda t: assign(t, None, "a_ana", "Ana"))  # unassigned again
    stored = ticket_store.get(refs[0])
    assert stored is not None and stored["assignee"] == "a_ana" and stored["assigned_at"]
    assert stored["history"][-1]["kind"] == "assigned"
    assert stored["history"][-1]["agent_id"] == "a_bo"
    every = [{k: t.get(k) for k in ("reference", "status", "name", "email", "subject",
                                     "message", "category", "created_at", "updated_at",
                                     "first_reply_at", "solved_at", "assignee")}
             for t in ticket_store.iter_tickets()]
    for assignee, expected in ((None, refs), ("a_ana", [refs[0]]), ("a_bo", [refs[1]]),
                               ("", refs[2:]), ("a_nobody", [])):
        for status in ("", "new", "open"):
            query = SummaryQuery(status=status, assignee=assignee)
            page = ticket_store.summaries(query)
            wanted = [r for r in expected if status in ("", "new")]
            assert [row["reference"] for row in page.items] == wanted, (assignee, status)
            assert page.matched == len(wanted)
            assert page.counts["new"] == 5 and page.total == 5  # the store's, whatever filter
            assert page == summarize(every, query)  # the reference meaning
    assert {row["assignee"] for row in ticket_store.summaries(SummaryQuery()).items} == {
        "a_ana", "a_bo", None}


def test_a_json_ticket_from_before_assignment_reads_as_unassigned(tmp_path: Path) -> None:
    from widget_server.tickets import JSONTicketStore

    store = JSONTicketStore(tmp_path)
    reference = _add(store, "Old")
    ticket = store.get(reference)
    assert ticket is not None and "assignee" not in ticket  # the on-disk format is unchanged
    assert [r["reference"] for r in store.summaries(SummaryQuery(assignee="")).items] == [
        reference]


# ---------------------------------------------------------------- the admin


def test_take_assign_unassign_with_history_audit_and_inbox_filters(
        app_client: Callable[..., TestClient]) -> None:
    client = app_client(ticket_rate_limit="1000/minute")
    team = team_of(client)
    with_agents(team)
    mine, other, loose = (open_ticket(client) for _ in range(3))
    maria, olga = agent_id(client, AGENT), agent_id(client, OWNER)
    csrf = sign_in_as(client, AGENT)
    page = client.get(f"/admin/tickets/{mine}").text
    assert "Take it" in page and "Assigned to" in page
    assert client.post(f"/admin/tickets/{mine}/assign",
                       data={"csrf": csrf, "agent": maria}).status_code == 303
    assert client.post(f"/admin/tickets/{other}/assign",
                       data={"csrf": csrf, "agent": olga}).status_code == 303
    # Nobody can be given a ticket who may not answer it.
    rita = agent_id(client, READ_ONLY)
    assert client.post(f"/admin/tickets/{loose}/assign",
                       data={"csrf": csrf, "agent": rita}).status_code == 404
    state = client.app.state.services  # type: ignore[attr-defined]
    assert state.tickets.get(mine)["assignee"] == maria
    assert state.tickets.get(other)["assignee"] == olga
    inbox = client.get("/admin/?assigned=mine").text
    assert mine in inbox and other not in inbox and loose not in inbox
    inbox = client.get("/admin/?assigned=none").text
    assert loose in inbox and mine not in inbox and other not in inbox
    inbox = client.get("/admin/").text
    assert all(r in inbox for r in (mine, other, loose))
    assert "<bdi>Olga</bdi>" in inbox and "<bdi>Maria</bdi>" in inbox  # each row's assignee
    # Unassign, then the history shows both, in order, with who did them.
    client.post(f"/admin/tickets/{other}/assign", data={"csrf": csrf, "agent": ""})
    client.post(f"/admin/tickets/{other}/status", data={"csrf": csrf, "status": "solved"})
    shown = client.get(f"/admin/tickets/{other}").text
    events = re.findall(r'<p class="history-event[^"]*">(.*?)</p>', shown, re.S)
    texts = [" ".join(re.sub(r"<[^>]+>", "", e).split()) for e in events]
    assert texts[0].startswith("Maria assigned the ticket to Olga")
    assert texts[1].startswith("Maria unassigned the ticket")
    assert texts[2].startswith("Maria set the status new → solved")
    actions = [(e.action, e.target, e.detail.get("assignee")) for e in team.audit()
               if e.action.startswith("ticket.")]
    assert actions == [("ticket.assigned", mine, "maria"), ("ticket.assigned", other, "olga"),
                       ("ticket.unassigned", other, None)]


def test_the_assignee_is_emailed_when_someone_else_assigns(
        app_client: Callable[..., TestClient], smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    client = app_client(ticket_rate_limit="1000/minute", smtp_host="127.0.0.1", smtp_port=port,
                    mail_from="help@example.com", public_url="https://help.example.com")
    team = team_of(client)
    with_agents(team)
    team.set_email("maria", "maria@example.com", CLI)
    team.set_email("olga", "olga@example.com", CLI)
    reference = open_ticket(client)
    inbox.messages.clear()
    csrf = sign_in_as(client, OWNER)
    client.post(f"/admin/tickets/{reference}/assign",
                data={"csrf": csrf, "agent": agent_id(client, AGENT)})
    assert [to for to, _ in inbox.messages] == [["maria@example.com"]]
    notice = inbox.messages[0][1]
    assert notice["Subject"] == f"Assigned to you: {reference}"
    assert "Olga assigned" in body_of(notice)
    assert f"https://help.example.com/admin/tickets/{reference}" in body_of(notice)
    # Taking a ticket yourself sends nothing.
    client.post(f"/admin/tickets/{reference}/assign",
                data={"csrf": csrf, "agent": agent_id(client, OWNER)})
    assert len(inbox.messages) == 1


def test_cli_assigns_and_sets_emails(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    added = runner.invoke(main, ["agents", "add", "ana", "--role", "owner", "--email",
                                 "ana@example.com", "--password-stdin", *data],
                          input="ana-password-12\n")
    assert added.exit_code == 0, added.output
    made = runner.invoke(main, ["agents", "add", "bo", "--role", "agent", "--password-stdin",
                                *data], input="bo-password-123\n")
    assert made.exit_code == 0, made.output
    set_email = runner.invoke(main, ["agents", "set-email", "bo", "bo@example.com", *data])
    assert set_email.exit_code == 0 and "bo@example.com" in set_email.output
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data")},
                             config_file=None, environ={})
    helpdesk = Helpdesk(open_ticket_store(settings), settings)
    reference = helpdesk.open_ticket({"name": "Ada", "email": "ada@example.com",
                                      "subject": "Help", "message": "It broke."}).reference
    done = runner.invoke(main, ["tickets", "assign", reference, "bo", *data])
    assert done.exit_code == 0 and "assigned to bo" in done.output, done.output
    team_store = open_team_store(settings)
    bo = next(a for a in team_store.agents() if a.name == "bo")
    assert bo.email == "bo@example.com"
    assert helpdesk.store.get(reference)["assignee"] == bo.id  # type: ignore[index]
    assert runner.invoke(main, ["tickets", "assign", reference, "nobody", *data]).exit_code == 1
    gone = runner.invoke(main, ["tickets", "assign", reference, "-", *data])
    assert gone.exit_code == 0 and "unassigned" in gone.output
    assert not helpdesk.store.get(reference)["assignee"]  # type: ignore[index]
    actions = [e.action for e in team_store.audit()]
    assert actions[-2:] == ["ticket.assigned", "ticket.unassigned"]
    assert "agent.email_changed" in actions


# ---------------------------------------------------------------- collision


def test_presence_names_the_others_viewing_for_thirty_seconds(
        app_client: Callable[..., TestClient]) -> None:
    client = app_client()
    with_agents(team_of(client))
    reference = open_ticket(client)
    presence = client.app.state.services.presence  # type: ignore[attr-defined]
    now = [1000.0]
    presence.clock = lambda: now[0]
    sign_in_as(client, OWNER)
    assert client.get(f"/admin/tickets/{reference}").status_code == 200
    sign_in_as(client, AGENT)
    answer = client.get(f"/admin/tickets/{reference}/presence").json()
    assert answer == {"others": ["Olga"], "line": "Olga is also viewing this ticket"}
    assert "Olga is also viewing this ticket" in client.get(f"/admin/tickets/{reference}").text
    sign_in_as(client, READ_ONLY)
    now[0] += 10
    assert client.get(f"/admin/tickets/{reference}/presence").json()["line"] == (
        "Maria and Olga are also viewing this ticket")
    sign_in_as(client, AGENT)
    client.get(f"/admin/tickets/{reference}/presence")  # Maria's page polls again
    sign_in_as(client, READ_ONLY)
    now[0] += 25  # Olga's view is 35 s old now, Maria's 25 s
    assert client.get(f"/admin/tickets/{reference}/presence").json()["others"] == ["Maria"]
    now[0] += 31
    assert client.get(f"/admin/tickets/{reference}/presence").json() == {"others": [],
                                                                          "line": ""}


def test_a_reply_on_a_stale_view_is_held_back_with_the_draft(
        app_client: Callable[..., TestClient]) -> None:
    client = app_client()
    with_agents(team_of(client))
    reference = open_ticket(client)
    state = client.app.state.services  # type: ignore[attr-defined]
    csrf = sign_in_as(client, OWNER)
    seen = seen_in(client.get(f"/admin/tickets/{reference}").text)
    state.helpdesk.visitor_reply(reference, "Also, the screen is blank.")
    answer = client.post(f"/admin/tickets/{reference}/reply",
                         data={"csrf": csrf, "body": "Try restarting it.", "seen": seen})
    assert answer.status_code == 409
    assert "New activity since you opened this ticket — read it, then send again" in answer.text
    assert "Also, the screen is blank." in answer.text  # the new message is shown
    assert ">Try restarting it.</textarea>" in answer.text  # the draft is kept
    assert [e["author"] for e in state.tickets.get(reference)["thread"]] == ["visitor",
                                                                            "visitor"]
    fresh = seen_in(answer.text)
    assert fresh == str(int(seen) + 1)
    sent = client.post(f"/admin/tickets/{reference}/reply",
                       data={"csrf": csrf, "body": "Try restarting it.", "seen": fresh})
    assert sent.status_code == 303
    assert state.tickets.get(reference)["thread"][-1]["body"] == "Try restarting it."


# ---------------------------------------------------------------- per-agent figures


def _ticket(reference: str, created: datetime, **fields: Any) -> dict[str, Any]:
    iso = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}
    return {"reference": reference, "subject": "s", "category": "", "status": "solved",
            "created_at": created.isoformat(), "first_reply_at": None, "solved_at": None,
            "ratings": [], **iso}


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KNOWN = [
    # Ana answers two in 10 and 30 minutes and solves them in 1 and 3 hours; rated 5 and 2.
    _ticket("DB-A1", T0, first_reply_at=T0 + timedelta(minutes=10), first_reply_by="a_ana",
            solved_at=T0 + timedelta(hours=1), solved_by="a_ana",
            ratings=[{"csat": 5, "at": (T0 + timedelta(hours=2)).isoformat(), "resolution": 1,
                      "agent_id": "a_ana"}]),
    _ticket("DB-A2", T0 + timedelta(days=1), first_reply_at=T0 + timedelta(days=1, minutes=30),
            first_reply_by="a_ana", solved_at=T0 + timedelta(days=1, hours=3), solved_by="a_bo",
            ratings=[{"csat": 2, "at": (T0 + timedelta(days=1, hours=4)).isoformat(),
                      "resolution": 1, "agent_id": "a_ana"}]),
    # Bo answers one in 2 hours; never solved.
    _ticket("DB-B1", T0 + timedelta(days=2), status="pending",
            first_reply_at=T0 + timedelta(days=2, hours=2), first_reply_by="a_bo"),
    # Answered from the command line: counts for nobody.
    _ticket("DB-C1", T0 + timedelta(days=2), first_reply_at=T0 + timedelta(days=2, hours=1)),
    # Created before the range, rated in it for Bo.
    _ticket("DB-OLD", T0 - timedelta(days=30),
            ratings=[{"csat": 4, "at": (T0 + timedelta(days=3)).isoformat(), "resolution": 1,
                      "agent_id": "a_bo"}]),
]
NAMES_BY_ID = {"a_ana": "Ana", "a_bo": "Bo"}


def test_per_agent_figures_with_known_numbers() -> None:
    since, until = T0, T0 + timedelta(days=7)
    report = build_report(KNOWN, [], since, until, UTC_ZONE, NAMES_BY_ID)
    ana, bo = report.agents
    assert (ana.name, ana.first_response.count, ana.first_response.median,
            ana.first_response.p90) == ("Ana", 2, 1200.0, 1800.0)
    assert (ana.resolution.count, ana.resolution.median) == (1, 3600.0)
    assert (ana.ratings, ana.csat) == (2, 0.5)
    assert (bo.name, bo.first_response.count, bo.first_response.median) == ("Bo", 1, 7200.0)
    assert (bo.resolution.count, bo.resolution.median) == (1, 3 * 3600.0)
    assert (bo.ratings, bo.csat) == (1, 1.0)
    assert to_jsonable(report)["agents"][0] == {
        "agent_id": "a_ana", "name": "Ana",
        "first_response": {"count": 2, "median": 1200.0, "p90": 1800.0},
        "resolution": {"count": 1, "median": 3600.0, "p90": 3600.0}, "ratings": 2,
        "csat": 0.5}


def test_every_store_gives_the_same_per_agent_figures(ticket_store: TicketStore) -> None:
    for ticket in KNOWN:
        fields = NEW_TICKET.validate({"name": "Ana", "email": "ana@example.com",
                                      "subject": "s", "message": "m"})
        made = new_ticket(fields)[0]
        made.update(ticket)
        ticket_store.add(made)
    since, until = T0, T0 + timedelta(days=7)
    expected = from_rows(agent_rows(KNOWN, since, until), NAMES_BY_ID)
    report = load_report(None, ticket_store, since, until, UTC_ZONE, names=NAMES_BY_ID)
    assert report.agents == expected
    if hasattr(ticket_store, "agent_rows"):  # PostgreSQL answers in SQL, not from tickets
        assert sorted(ticket_store.agent_rows(since, until)) == sorted(
            agent_rows(KNOWN, since, until))


def test_the_admin_shows_the_per_agent_table_to_owners_only(
        app_client: Callable[..., TestClient]) -> None:
    client = app_client()
    with_agents(team_of(client))
    reference = open_ticket(client)
    csrf = sign_in_as(client, AGENT)
    client.post(f"/admin/tickets/{reference}/reply",
                data={"csrf": csrf, "body": "Fixed.", "status": "solved"})
    assert "Per agent" not in client.get("/admin/insights").text
    sign_in_as(client, READ_ONLY)
    assert "Per agent" not in client.get("/admin/insights").text
    sign_in_as(client, OWNER)
    page = client.get("/admin/insights").text
    assert "Per agent" in page and "<bdi>Maria</bdi>" in page
    ticket = client.app.state.services.tickets.get(reference)  # type: ignore[attr-defined]
    assert ticket["first_reply_by"] == ticket["solved_by"] == agent_id(client, AGENT)


def test_a_rating_counts_for_the_assignee_and_the_visitor_does_not_see_it(
        app_client: Callable[..., TestClient]) -> None:
    client = app_client()
    team = team_of(client)
    with_agents(team)
    answer = client.post("/api/v1/tickets", json={"name": "Ada", "email": "ada@example.com",
                                                  "subject": "Help", "message": "It broke.",
                                                  "elapsed_ms": 5000})
    reference, token = answer.json()["reference"], answer.json()["token"]
    csrf = sign_in_as(client, AGENT)
    client.post(f"/admin/tickets/{reference}/reply",
                data={"csrf": csrf, "body": "Fixed.", "status": "solved"})
    olga = agent_id(client, OWNER)
    client.post(f"/admin/tickets/{reference}/assign", data={"csrf": csrf, "agent": olga})
    auth = {"authorization": f"Bearer {token}"}
    rated = client.post(f"/api/v1/tickets/{reference}/rating", json={"csat": 5},
                        headers=auth)
    assert rated.status_code == 201 and "agent_id" not in rated.json()
    assert "agent_id" not in client.get(f"/api/v1/tickets/{reference}", headers=auth).json()[
        "rating"]
    ticket = client.app.state.services.tickets.get(reference)  # type: ignore[attr-defined]
    assert ticket["ratings"][0]["agent_id"] == olga

