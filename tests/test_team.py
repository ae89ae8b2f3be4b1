"""The team: agent accounts and roles on every admin route, server-side sessions that can be
ended, sign-in limits that never lock the owner out for good, two-step codes, the audit log,
attribution of replies, and the upgrade of an admin_password-only install."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from click.testing import CliRunner
from starlette.routing import Route
from starlette.testclient import TestClient

from cli.main import main
from widget_server.app import create_app
from widget_server.errors import Conflict, RateLimited
from widget_server.search import reindex
from widget_server.security import SESSION_COOKIE, Limits, RateLimit
from widget_server.settings import Settings
from widget_server.team import (
    AGENT,
    OWNER,
    READ_ONLY,
    Actor,
    AuditEntry,
    JSONTeamStore,
    LoginRefused,
    MemoryTeamStore,
    SessionRecord,
    Team,
    TeamStore,
)
from widget_server.team.model import new_agent

from .test_admin import PASSWORD, csrf_of

GOOD_TICKET = {"name": "Ada", "email": "ada@example.com", "subject": "Help",
               "message": "It broke.", "elapsed_ms": 5000}
PASSWORDS = {OWNER: "owner-password-1", AGENT: "agent-password-1", READ_ONLY: "reader-password-1"}
NAMES = {OWNER: "olga", AGENT: "maria", READ_ONLY: "rita"}
CLI = Actor.cli()

# What each admin route needs: read (every role), reply (owner, agent), manage (owner). A new
# admin route must be added here, so its role rule is decided on purpose.
NEEDS = {
    ("/admin", "GET"): "read",
    ("/admin/", "GET"): "read",
    ("/admin/logout", "POST"): "read",
    ("/admin/tickets/{reference}", "GET"): "read",
    ("/admin/tickets/{reference}/reply", "POST"): "reply",
    ("/admin/tickets/{reference}/compose", "POST"): "reply",
    ("/admin/kb/{slug:path}", "GET"): "read",
    ("/admin/tickets/{reference}/note", "POST"): "reply",
    ("/admin/tickets/{reference}/accept", "POST"): "reply",
    ("/admin/tickets/{reference}/status", "POST"): "reply",
    ("/admin/tickets/{reference}/draft", "POST"): "read",
    ("/admin/tickets/{reference}/assign", "POST"): "reply",
    ("/admin/tickets/{reference}/presence", "GET"): "read",
    ("/admin/tickets/{reference}/attachments/{id}", "GET"): "read",
    ("/admin/insights", "GET"): "read",
    ("/admin/insights/draft", "POST"): "read",
    ("/admin/insights/notice", "POST"): "manage",
    ("/admin/insights/notice/clear", "POST"): "manage",
    ("/admin/account", "GET"): "read",
    ("/admin/account/sign-out-everywhere", "POST"): "read",
    ("/admin/account/two-step", "POST"): "read",
    ("/admin/account/two-step/confirm", "POST"): "read",
    ("/admin/account/two-step/off", "POST"): "read",
    ("/admin/team", "GET"): "manage",
    ("/admin/team/sessions/end", "POST"): "manage",
    ("/admin/team/agents/state", "POST"): "manage",
}
ROLE_MAY = {OWNER: {"read", "reply", "manage"}, AGENT: {"read", "reply"}, READ_ONLY: {"read"}}


# ---------------------------------------------------------------- fixtures


def team_of(client: TestClient) -> Team:
    team: Team = client.app.state.services.team  # type: ignore[attr-defined]
    return team


def with_agents(team: Team) -> None:
    for role, name in NAMES.items():
        team.add_agent(name, name.title(), role, PASSWORDS[role], CLI)


def sign_in_as(client: TestClient, role: str) -> str:
    """Give `client` a session of the agent with `role` (made by the Team, not the form, so
    the per-address login limit is not spent), or keep the one it has while it is still
    that agent's; returns its CSRF token."""
    team = team_of(client)
    current = team.resolve(client.cookies.get(SESSION_COOKIE))
    if current is not None and current.agent.name == NAMES[role]:
        return current.csrf
    signed = team.sign_in(NAMES[role], PASSWORDS[role], ip="10.0.0.1")
    client.cookies.set(SESSION_COOKIE, signed.token)
    return signed.session.csrf


def open_ticket(client: TestClient) -> str:
    response = client.post("/api/v1/tickets", json=GOOD_TICKET)
    assert response.status_code == 201, response.text
    reference: str = response.json()["reference"]
    return reference


def login_form(client: TestClient, password: str, name: str = "", code: str = "") -> Any:
    page = client.get("/admin/login")
    return client.post("/admin/login", data={"csrf": csrf_of(page.text), "name": name,
                                             "password": password, "code": code,
                                             "next": "/admin/"})


# ---------------------------------------------------------------- roles


def test_every_admin_route_with_every_role(app_client: Callable[..., TestClient]) -> None:
    client = app_client(ticket_rate_limit="1000/minute")
    team = team_of(client)
    with_agents(team)
    reference = open_ticket(client)
    state = client.app.state.services  # type: ignore[attr-defined]
    routes = [(r.path, m) for r in client.app.routes  # type: ignore[attr-defined]
              if isinstance(r, Route) and r.path.startswith("/admin") and r.path != "/admin/login"
              for m in sorted((r.methods or set()) - {"HEAD"})]
    assert set(routes) == set(NEEDS), "classify every admin route in NEEDS"
    before = state.tickets.get(reference)
    checked = 0
    for role in (READ_ONLY, AGENT, OWNER):  # the owner last: its allowed posts change things
        for path, method in routes:
            csrf = sign_in_as(client, role)
            url = (path.replace("{reference}", reference).replace("{slug:path}", "nope")
                   .replace("{id}", "nope"))
            form = {"csrf": csrf, "body": "x", "status": "closed", "code": "000000",
                    "session": "0" * 16, "agent": "a_nobody", "action": "disable",
                    "id": "nope", "text": "Down", "until": "2099-01-01T00:00",
                    "insert": "link:nope", "query": "nope", "entry": "nope"}
            response = client.request(method, url, data=form if method == "POST" else None)
            allowed = NEEDS[(path, method)] in ROLE_MAY[role]
            checked += 1
            if allowed:
                assert response.status_code != 403, (role, method, path, response.text[:300])
                assert not response.headers.get("location", "").startswith("/admin/login") \
                    or path.endswith(("logout", "sign-out-everywhere")), (role, path)
            else:
                assert response.status_code == 403, (role, method, path, response.status_code)
        if role == READ_ONLY:  # nothing a refused role sent changed the ticket
            assert state.tickets.get(reference) == before
        if role != OWNER:  # nor the notices
            assert state.notices.all() == [], role
    assert checked == 3 * len(NEEDS)


def test_read_only_sees_tickets_without_reply_forms(app_client: Callable[..., TestClient]) -> None:
    client = app_client()
    with_agents(team_of(client))
    reference = open_ticket(client)
    sign_in_as(client, READ_ONLY)
    page = client.get(f"/admin/tickets/{reference}").text
    assert "It broke." in page and "Send reply" not in page and "Add note" not in page
    assert "Team</a>" not in client.get("/admin/").text
    sign_in_as(client, OWNER)
    assert "Team</a>" in client.get("/admin/").text


def test_cli_acts_as_owner_and_is_audited_as_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    made = runner.invoke(main, ["agents", "add", "ana", "--role", "agent", "--password-stdin",
                                *data], input="ana-password-12\n")
    assert made.exit_code == 0, made.output
    assert "first agent is an owner" in made.output  # no lock-out: the first one owns
    for args in (["agents", "add", "bo", "--role", "read-only", "--password-stdin"],):
        assert runner.invoke(main, [*args, *data], input="bo-password-123\n").exit_code == 0
    assert runner.invoke(main, ["agents", "set-role", "bo", "agent", *data]).exit_code == 0
    refused = runner.invoke(main, ["agents", "set-role", "ana", "agent", *data])
    assert refused.exit_code == 1 and "only active owner" in refused.output
    assert runner.invoke(main, ["agents", "disable", "bo", *data]).exit_code == 0
    assert runner.invoke(main, ["agents", "reset-password", "bo", "--password-stdin", *data],
                         input="bo-password-456\n").exit_code == 0
    short = runner.invoke(main, ["agents", "add", "cy", "--password-stdin", *data], input="x\n")
    assert short.exit_code == 1 and "at least 10" in short.output
    listed = json.loads(runner.invoke(main, ["agents", "list", "--format", "json", *data]).output)
    assert [(a["name"], a["role"], a["disabled"]) for a in listed] == [
        ("ana", "owner", False), ("bo", "agent", True)]
    out = runner.invoke(main, ["audit", "--format", "json", *data])
    entries = json.loads(out.output)
    assert {e["actor"] for e in entries} == {"cli"} and {e["ip"] for e in entries} == {"cli"}
    assert [e["action"] for e in entries] == ["agent.added", "agent.added",
                                              "agent.role_changed", "agent.disabled",
                                              "agent.password_reset"]
    stored = (tmp_path / "data" / "team" / "agents.json").read_text()
    assert "bo-password" not in stored and "$argon2id$" in stored
    assert "bo-password" not in (tmp_path / "data" / "audit").joinpath(
        f"{datetime.now(UTC):%Y-%m-%d}.jsonl").read_text()


# ---------------------------------------------------------------- sessions


def test_a_disabled_agents_sessions_stop_at_their_next_request(
        app_client: Callable[..., TestClient]) -> None:
    client = app_client()
    team = team_of(client)
    with_agents(team)
    sign_in_as(client, AGENT)
    assert client.get("/admin/").status_code == 200
    team.set_disabled(NAMES[AGENT], True, CLI)
    assert client.get("/admin/").status_code == 303
    assert team.store.sessions() == []
    with pytest.raises(LoginRefused):
        team.sign_in(NAMES[AGENT], PASSWORDS[AGENT])


def test_sign_out_everywhere_and_an_owner_ending_a_session(
        app_client: Callable[..., TestClient]) -> None:
    client = app_client()
    team = team_of(client)
    with_agents(team)
    phone = team.sign_in(NAMES[AGENT], PASSWORDS[AGENT], ip="10.0.0.2")
    laptop = team.sign_in(NAMES[AGENT], PASSWORDS[AGENT], ip="10.0.0.3")
    other = team.sign_in(NAMES[READ_ONLY], PASSWORDS[READ_ONLY], ip="10.0.0.4")
    client.cookies.set(SESSION_COOKIE, laptop.token)
    page = client.get("/admin/account")
    assert page.status_code == 200 and phone.session.handle in page.text
    ended = client.post("/admin/account/sign-out-everywhere", data={"csrf": laptop.session.csrf})
    assert ended.status_code == 303
    assert team.resolve(phone.token) is None and team.resolve(laptop.token) is None
    assert team.resolve(other.token) is not None  # someone else's sessions stay
    csrf = sign_in_as(client, OWNER)
    listing = client.get("/admin/team").text
    assert other.session.handle in listing
    assert client.post("/admin/team/sessions/end", data={"csrf": csrf, "session":
                                                         other.session.handle}).status_code == 303
    assert team.resolve(other.token) is None
    actions = [e.action for e in team.audit()]
    assert "sessions.ended" in actions and "session.revoked" in actions


def test_sessions_end_when_idle_or_too_old(make_settings: Callable[..., Settings]) -> None:
    now = [datetime(2026, 11, 30, 9, 0, tzinfo=UTC)]
    team = Team(MemoryTeamStore(), make_settings(session_idle_minutes=30, session_max_hours=2),
                clock=lambda: now[0])
    team.add_agent("ana", "Ana", OWNER, "ana-password-12", CLI)
    signed = team.sign_in("ana", "ana-password-12")
    now[0] += timedelta(minutes=29)
    assert team.resolve(signed.token) is not None  # a request: last seen moves on
    now[0] += timedelta(minutes=29)
    assert team.resolve(signed.token) is not None
    now[0] += timedelta(minutes=31)
    assert team.resolve(signed.token) is None  # idle too long
    again = team.sign_in("ana", "ana-password-12")
    for _ in range(5):  # busy, never idle, yet the absolute lifetime ends it
        now[0] += timedelta(minutes=25)
        team.resolve(again.token)
    assert team.resolve(again.token) is None


def test_the_cookie_holds_only_a_random_token(app_client: Callable[..., TestClient]) -> None:
    client = app_client()
    response = login_form(client, PASSWORD)
    token = client.cookies[SESSION_COOKIE]
    assert response.status_code == 303 and "." not in token and len(token) >= 40
    stored = (Path(client.app.state.services.settings.data_dir)  # type: ignore[attr-defined]
              / "team" / "sessions.json").read_text()
    assert token not in stored
    client.cookies.set(SESSION_COOKIE, token[:-1] + ("x" if token[-1] != "x" else "y"))
    assert client.get("/admin/").status_code == 303


# ---------------------------------------------------------------- brute force


def _quick_limits(team: Team, rate: str) -> None:
    assert team.limits is not None
    team.limits = dataclasses.replace(
        team.limits, login_account=RateLimit(rate, "acct"), login_device=RateLimit(rate, "dev"))


def test_guessing_one_account_from_many_addresses_is_limited_then_lets_go(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    team = Team(MemoryTeamStore(), settings, Limits.from_settings(settings))
    team.add_agent("ana", "Ana", OWNER, "ana-password-12", CLI)
    owners_browser = team.sign_in("ana", "ana-password-12", ip="192.0.2.1").device
    _quick_limits(team, "3/2 seconds")
    for i in range(3):
        with pytest.raises(LoginRefused):
            team.sign_in("ana", f"guess-{i}", ip=f"203.0.113.{i}")
    with pytest.raises(RateLimited):  # the fourth address is refused before any hashing
        team.sign_in("ana", "ana-password-12", ip="203.0.113.9")
    # The owner's own browser (its signed device cookie) is counted apart: not locked out.
    assert team.sign_in("ana", "ana-password-12", ip="192.0.2.1", device=owners_browser)
    # Other accounts are not affected; guesses across accounts each count on their own.
    team.add_agent("bo", "Bo", AGENT, "bo-password-123", CLI)
    assert team.sign_in("bo", "bo-password-123", ip="203.0.113.9")
    time.sleep(2.1)  # the window moves on: no permanent lock
    assert team.sign_in("ana", "ana-password-12", ip="203.0.113.9")
    actions = [e.action for e in team.audit()]
    assert actions.count("signin.failed") == 3 and "signin.limited" in actions


def test_unknown_names_are_limited_too_and_answer_like_wrong_passwords(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    team = Team(MemoryTeamStore(), settings, Limits.from_settings(settings))
    _quick_limits(team, "2/minute")
    for _ in range(2):
        with pytest.raises(LoginRefused) as refused:
            team.sign_in("nobody", "whatever-123")
        assert refused.value.message == "Wrong name, password or code."
    with pytest.raises(RateLimited):
        team.sign_in("nobody", "whatever-123")


def test_the_login_form_is_limited_per_address(app_client: Callable[..., TestClient]) -> None:
    client = app_client()
    codes = [login_form(client, "wrong", "owner").status_code for _ in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429


# ---------------------------------------------------------------- two-step


NOW = datetime(2026, 11, 30, 12, 0, 10, tzinfo=UTC)


def _two_step_team(make_settings: Callable[..., Settings]) -> tuple[Team, str]:
    team = Team(MemoryTeamStore(), make_settings(), clock=lambda: NOW)
    agent = team.add_agent("ana", "Ana", OWNER, "ana-password-12", CLI)
    setup = team.totp_begin(agent, "Help Center")
    assert setup.uri.startswith("otpauth://totp/")
    codes = team.totp_confirm(agent, pyotp.TOTP(setup.secret).at(NOW.timestamp()), CLI)
    assert len(codes) == 10 and team.find("ana").two_step
    team.store.update_agent(agent.id, lambda a: a.changed(totp_step=0))  # as if set up long ago
    return team, setup.secret


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (0, True), (1, True),
                                                 (2, False)])
def test_two_step_codes_allow_one_step_of_clock_skew(make_settings: Callable[..., Settings],
                                                     steps: int, accepted: bool) -> None:
    team, secret = _two_step_team(make_settings)
    code = pyotp.TOTP(secret).at(NOW.timestamp() + steps * 30)
    if accepted:
        assert team.sign_in("ana", "ana-password-12", code)
    else:
        with pytest.raises(LoginRefused):
            team.sign_in("ana", "ana-password-12", code)


def test_two_step_codes_are_needed_and_never_replayed(
        make_settings: Callable[..., Settings]) -> None:
    team, secret = _two_step_team(make_settings)
    totp = pyotp.TOTP(secret)
    with pytest.raises(LoginRefused):
        team.sign_in("ana", "ana-password-12")  # the password alone is not enough
    assert team.sign_in("ana", "ana-password-12", totp.at(NOW.timestamp()))
    with pytest.raises(LoginRefused):
        team.sign_in("ana", "ana-password-12", totp.at(NOW.timestamp()))  # replayed
    with pytest.raises(LoginRefused):
        team.sign_in("ana", "ana-password-12", totp.at(NOW.timestamp() - 30))  # older step
    reasons = [e.detail.get("reason") for e in team.audit() if e.action == "signin.failed"]
    assert reasons == ["two-step code missing", "two-step code used before",
                       "two-step code used before"]


def test_recovery_codes_work_once(make_settings: Callable[..., Settings]) -> None:
    team = Team(MemoryTeamStore(), make_settings(), clock=lambda: NOW)
    agent = team.add_agent("ana", "Ana", OWNER, "ana-password-12", CLI)
    setup = team.totp_begin(agent, "Help Center")
    codes = team.totp_confirm(agent, pyotp.TOTP(setup.secret).at(NOW.timestamp()), CLI)
    assert team.sign_in("ana", "ana-password-12", codes[3].upper())
    with pytest.raises(LoginRefused):
        team.sign_in("ana", "ana-password-12", codes[3])
    stored = json.dumps(team.find("ana").as_dict())
    assert not any(c in stored for c in codes) and setup.secret in stored


def test_two_step_through_the_admin(app_client: Callable[..., TestClient]) -> None:
    client = app_client()
    assert login_form(client, PASSWORD).status_code == 303  # becomes the owner "owner"
    page = client.get("/admin/account")
    csrf = csrf_of(page.text)
    started = client.post("/admin/account/two-step", data={"csrf": csrf})
    secret = re.search(r'class="totp-secret">([A-Z2-7]+)<', started.text)
    assert secret, started.text
    confirmed = client.post("/admin/account/two-step/confirm",
                            data={"csrf": csrf, "code": pyotp.TOTP(secret[1]).now()})
    assert confirmed.status_code == 200 and "shown this once" in confirmed.text
    client.cookies.clear()
    assert login_form(client, PASSWORD).status_code == 401
    assert login_form(client, PASSWORD, code=pyotp.TOTP(secret[1]).at(time.time() + 30)
                      ).status_code == 303


# ---------------------------------------------------------------- audit


def test_the_audit_log_records_every_listed_action(app_client: Callable[..., TestClient],
                                                   tmp_path: Path) -> None:
    client = app_client()
    settings = client.app.state.services.settings  # type: ignore[attr-defined]
    team = team_of(client)
    assert login_form(client, "wrong").status_code == 401
    assert login_form(client, PASSWORD).status_code == 303
    csrf = csrf_of(client.get("/admin/").text)
    client.post("/admin/insights/notice", data={"csrf": csrf, "text": "Checkout is down",
                                                "until": "2099-01-01T00:00"})
    notice_id = client.app.state.services.notices.all()[0].id  # type: ignore[attr-defined]
    client.post("/admin/insights/notice/clear", data={"csrf": csrf, "id": notice_id})
    team.add_agent("bo", "Bo", AGENT, "bo-password-123", CLI)
    bo = team.sign_in("bo", "bo-password-123", ip="10.0.0.5")
    client.post("/admin/team/sessions/end", data={"csrf": csrf, "session": bo.session.handle})
    client.post("/admin/team/agents/state", data={"csrf": csrf, "agent": "bo",
                                                  "action": "disable"})
    team.set_role("bo", READ_ONLY, CLI)
    team.reset_password("bo", "bo-password-456", CLI)
    runner = CliRunner()
    data = ["--data-dir", str(settings.data_dir)]
    for args in (["export", "tickets", "--format", "json", "-o", str(tmp_path / "t.json")],
                 ["export", "events", "-o", str(tmp_path / "e.jsonl")],
                 ["export", "notices", "-o", str(tmp_path / "n.csv")],
                 ["erase", "--email", "ada@example.com", "--yes"],
                 ["notice", "set", "Maintenance", "--until", "2099-01-01T00:00"],
                 ["notice", "clear"],
                 ["audit", "--format", "csv", "-o", str(tmp_path / "audit.csv")]):
        result = runner.invoke(main, [*args, *data])
        assert result.exit_code == 0, (args, result.output)
    client.post("/admin/logout", data={"csrf": csrf})
    entries = team.audit()
    actions = [e.action for e in entries]
    for action in ("signin.failed", "agent.migrated", "signin.ok", "notice.published",
                   "notice.cleared", "agent.added", "session.revoked", "agent.disabled",
                   "agent.role_changed", "agent.password_reset", "export.tickets",
                   "export.events", "export.notices", "erase", "export.audit", "signout"):
        assert action in actions, action
    by_http = next(e for e in entries if e.action == "notice.published")
    assert (by_http.actor, by_http.ip) == ("owner", "testclient") and by_http.agent_id
    by_cli = [e for e in entries if e.action == "notice.published"][1]
    assert (by_cli.actor, by_cli.ip) == ("cli", "cli")
    assert next(e for e in entries if e.action == "signin.failed").ip == "testclient"
    assert "audit.csv" in str(tmp_path / "audit.csv") and (tmp_path / "audit.csv").read_text(
        ).startswith("at,actor,agent_id,ip,action,target,detail")


def test_no_route_edits_the_audit_log(app_client: Callable[..., TestClient]) -> None:
    client = app_client(ticket_rate_limit="1000/minute")
    team = team_of(client)
    with_agents(team)
    reference = open_ticket(client)
    team.record(CLI, "erase", "someone@example.com", tickets=1)
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    for route in client.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, Route):
            continue
        for method in methods:
            csrf = sign_in_as(client, OWNER)
            before = [e.as_dict() for e in team.audit()]
            url = (route.path.replace("{reference}", reference).replace("{slug:path}", "x")
                   .replace("{slug}", "x").replace("{id}", "x").replace("{locale}", "en")
                   .replace("{name}", "x").replace("{path:path}", "x"))
            url = re.sub(r"\{[^}]+\}", "x", url)
            client.request(method, url, data={"csrf": csrf, "action": "delete", "id": "1",
                                              "entry": "0", "at": "2000-01-01"}
                           if method != "GET" else None)
            after = [e.as_dict() for e in team.audit()]
            assert after[:len(before)] == before, (method, route.path)  # only ever appended
    assert not any(r.path.startswith("/admin/audit") for r in client.app.routes  # type: ignore[attr-defined]
                   if isinstance(r, Route))


def test_audit_retention(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    now = [datetime(2026, 11, 30, 9, 0, tzinfo=UTC)]
    store = JSONTeamStore(tmp_path / "d")
    team = Team(store, make_settings(audit_retention_days=30), clock=lambda: now[0])
    team.record(CLI, "erase", "old@example.com")
    now[0] += timedelta(days=31)
    team.record(CLI, "erase", "new@example.com")
    assert team.prune() == 1
    assert [e.target for e in team.audit()] == ["new@example.com"]


# ---------------------------------------------------------------- attribution


@pytest.mark.parametrize(("signature", "shown"), [("name", "Maria"), ("team", "Help Center")])
def test_replies_and_notes_know_their_agent(app_client: Callable[..., TestClient], signature: str,
                                            shown: str) -> None:
    client = app_client(reply_signature=signature)
    team = team_of(client)
    with_agents(team)
    created = client.post("/api/v1/tickets", json=GOOD_TICKET).json()
    reference = created["reference"]
    csrf = sign_in_as(client, AGENT)
    base = f"/admin/tickets/{reference}"
    assert client.post(f"{base}/note", data={"csrf": csrf, "body": "checking"}).status_code == 303
    assert client.post(f"{base}/reply", data={"csrf": csrf, "body": "Fixed",
                                              "status": "solved"}).status_code == 303
    ticket = client.app.state.services.tickets.get(reference)  # type: ignore[attr-defined]
    maria = team.find(NAMES[AGENT])
    note, reply = ticket["thread"][1:]
    assert note["agent_id"] == reply["agent_id"] == ticket["status_by"] == maria.id
    assert reply["author_name"] == shown and reply["agent_name"] == "Maria"
    visitor = client.get(f"/api/v1/tickets/{reference}",
                         headers={"Authorization": f"Bearer {created['token']}"}).json()
    assert "agent_id" not in json.dumps(visitor)
    assert ("Maria" in json.dumps(visitor)) == (signature == "name")
    assert [m["author_name"] for m in visitor["thread"] if m["author"] == "agent"] == [shown]


# ---------------------------------------------------------------- upgrade


def test_an_admin_password_install_upgrades_without_locking_anyone_out(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(admin_password=PASSWORD)
    reindex(Path(settings.kb_dir), settings.index_dir)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        assert client.get("/admin/").status_code == 303  # enabled by the password alone
        assert login_form(client, PASSWORD).status_code == 303  # no name: the owner
        assert client.get("/admin/").status_code == 200
        owner = team_of(client).find("owner")
        assert owner.role == OWNER and owner.password_hash.startswith("$argon2id$")
    stored = (Path(settings.data_dir) / "team" / "agents.json").read_text()
    assert PASSWORD not in stored
    # The setting is no longer needed: the owner signs in by name with the same password.
    without = settings.replace(admin_password="")
    with TestClient(create_app(without), follow_redirects=False) as client:
        assert login_form(client, PASSWORD, "owner").status_code == 303
        assert client.get("/admin/").status_code == 200
        migrated = [e for e in team_of(client).audit() if e.action == "agent.migrated"]
        assert len(migrated) == 1


def test_a_wrong_password_creates_no_owner(app_client: Callable[..., TestClient]) -> None:
    client = app_client()
    assert login_form(client, "not it").status_code == 401
    assert team_of(client).agents() == []


# ---------------------------------------------------------------- stores


@pytest.fixture(params=["memory", "json", "postgresql"])
def team_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TeamStore]:
    if request.param == "memory":
        yield MemoryTeamStore()
        return
    if request.param == "json":
        yield JSONTeamStore(tmp_path / "data")
        return
    from widget_server.team.postgres import PostgresTeamStore
    from widget_server.tickets import pg_schema

    url = request.getfixturevalue("postgres_url")
    with pg_schema.connect(url) as conn:
        pg_schema.upgrade(conn)
    store = PostgresTeamStore(url)
    yield store
    store.close()


def test_team_store_contract(team_store: TeamStore) -> None:
    agent = new_agent("ana", "Ana", OWNER, "$argon2id$x")
    team_store.add_agent(agent)
    with pytest.raises(Conflict):
        team_store.add_agent(new_agent("ana", "Other", AGENT, "$argon2id$y"))
    changed = team_store.update_agent(agent.id, lambda a: a.changed(role=AGENT, totp_step=7))
    assert team_store.agent(agent.id) == changed and team_store.agent_named("ana") == changed
    t0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    records = [SessionRecord(str(i) * 64, agent.id, f"csrf{i}", t0 + timedelta(minutes=i),
                             t0 + timedelta(minutes=i), "10.0.0.1", "test") for i in range(3)]
    for record in records:
        team_store.add_session(record)
    assert team_store.session(records[1].id) == records[1]
    team_store.touch_session(records[0].id, t0 + timedelta(minutes=10))
    assert team_store.session(records[0].id).last_seen == t0 + timedelta(minutes=10)  # type: ignore[union-attr]
    assert [s.id for s in team_store.end_sessions(session_id=records[2].handle)] == [records[2].id]
    idle = team_store.end_sessions(seen_before=t0 + timedelta(minutes=5))
    assert [s.id for s in idle] == [records[1].id]
    assert [s.id for s in team_store.end_sessions(agent_id=agent.id)] == [records[0].id]
    assert team_store.sessions() == []
    for days in (40, 2, 1):
        team_store.append_audit(AuditEntry(t0 - timedelta(days=days), "cli", None, "cli",
                                           "erase", f"{days}@example.com", {"n": days}))
    assert [e.target for e in team_store.audit(t0 - timedelta(days=3))] == [
        "2@example.com", "1@example.com"]
    assert team_store.prune_audit(t0 - timedelta(days=30)) == 1
    assert len(team_store.audit()) == 2


def test_postgresql_sessions_hold_across_nodes(postgres_url: str,
                                               make_settings: Callable[..., Settings]) -> None:
    from widget_server.team.postgres import PostgresTeamStore
    from widget_server.tickets import pg_schema

    with pg_schema.connect(postgres_url) as conn:
        pg_schema.upgrade(conn)
    settings = make_settings()
    node_a = Team(PostgresTeamStore(postgres_url), settings)
    node_b = Team(PostgresTeamStore(postgres_url), settings)
    try:
        node_a.add_agent("ana", "Ana", OWNER, "ana-password-12", CLI)
        signed = node_a.sign_in("ana", "ana-password-12", ip="10.0.0.1")
        seen = node_b.resolve(signed.token)
        assert seen is not None and seen.agent.name == "ana" and seen.csrf == signed.session.csrf
        node_b.sign_out_everywhere(seen.agent, Actor("ana", seen.agent.id, "10.0.0.2"))
        assert node_a.resolve(signed.token) is None
        assert [e.action for e in node_a.audit()] == ["agent.added", "signin.ok",
                                                      "sessions.ended"]
    finally:
        node_a.store.close()
        node_b.store.close()
