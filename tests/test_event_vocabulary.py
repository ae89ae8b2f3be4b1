"""One event vocabulary and one session id rule, for events and for a ticket's trail.

The widget makes a session id once per tab; the same id goes with its events and with the trail
of a ticket it opens, and the helpdesk ties the two with a ticket_created event. So the events
endpoint and the tickets endpoint must accept exactly the ids the widget makes and refuse any
other shape, each with a 422 naming its field; tickets stored under the older, looser rule must
still be read.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.test_admin import PASSWORD, log_in
from widget_server.app import create_app
from widget_server.errors import ValidationFailed
from widget_server.events import (
    CLIENT_TYPES,
    EVENT_TYPES,
    SESSION_PATTERN,
    WIDGET,
    EventStore,
    NewEvent,
    client_events_openapi,
    is_session,
    parse_client_events,
)
from widget_server.tickets import model

REPO = Path(__file__).parent.parent
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
FORM = {"name": "Ana Lima", "email": "ana@example.com", "subject": "Cannot log in",
        "message": "The reset link says expired.", "elapsed_ms": 9000}


def widget_session(rng: random.Random) -> str:
    """What sessionId() in static/widget/panel.js makes: 22 random bytes, each as abc[b & 63]."""
    return "s_" + "".join(ALPHABET[b & 63] for b in rng.randbytes(22))


WIDGET_IDS = [widget_session(random.Random(n)) for n in range(3)] + ["s_" + "-_" * 11]
WRONG_IDS = [
    "s_" + "a" * 8,  # the trail's old rule took 8 to 64 characters
    "s_" + "a" * 64,
    "s_" + "a" * 21,
    "s_" + "a" * 23,
    "S_" + "a" * 22,
    "s_" + "a" * 21 + "!",
    "s_" + "a" * 21 + "\u00e9",
    "s_" + "a" * 22 + "\n",
]


def test_the_widget_still_makes_ids_the_way_this_test_does():
    source = (REPO / "static/widget/panel.js").read_text()
    body = source[source.index("function sessionId()"):][:400]
    assert "new Uint8Array(22)" in body and f"'{ALPHABET}'" in body
    assert "abc[b & 63]" in body and "'s_' +" in body


def test_the_rule_takes_every_id_the_widget_makes_and_nothing_else():
    rng = random.Random(1)
    assert all(is_session(widget_session(rng)) for _ in range(500))
    assert not any(is_session(bad) for bad in WRONG_IDS)
    assert not is_session(None) and not is_session(22)


@pytest.fixture
def api(make_settings) -> Iterator[TestClient]:
    settings = make_settings(ticket_rate_limit="100/minute", admin_password=PASSWORD)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def _events(client: TestClient) -> list[dict[str, Any]]:
    store: EventStore = client.app.state.services.events  # type: ignore[attr-defined]
    return list(store.iter_events())


def _tickets(client: TestClient) -> list[dict[str, Any]]:
    return list(client.app.state.services.tickets.iter_tickets())  # type: ignore[attr-defined]


@pytest.mark.parametrize("session", WIDGET_IDS)
def test_a_widget_session_is_taken_by_events_and_by_a_ticket_trail(api, session):
    sent = api.post("/api/v1/events", json={"session": session,
                                            "events": [{"type": "contact_open"}]})
    assert sent.status_code == 202, sent.text
    opened = api.post("/api/v1/tickets", json={**FORM, "trail": {"session": session}})
    assert opened.status_code == 201, opened.text
    [ticket] = _tickets(api)
    assert ticket["trail"]["session"] == session
    # The ticket and its help session's events name the same session.
    assert [(e["type"], e["session"]) for e in _events(api)] == [
        ("contact_open", session), ("ticket_created", session)]


@pytest.mark.parametrize("session", WRONG_IDS)
def test_a_wrong_shape_is_refused_by_both_with_a_422_naming_the_field(api, session):
    sent = api.post("/api/v1/events", json={"session": session,
                                            "events": [{"type": "contact_open"}]})
    assert sent.status_code == 422
    assert "session" in sent.json()["error"]["details"]
    opened = api.post("/api/v1/tickets", json={**FORM, "trail": {"session": session}})
    assert opened.status_code == 422
    assert "trail.session" in opened.json()["error"]["details"]
    assert _events(api) == [] and _tickets(api) == []


def test_a_trail_without_a_session_is_still_taken(api):
    for trail in ({}, {"session": ""}):
        assert api.post("/api/v1/tickets", json={**FORM, "trail": trail}).status_code == 201
    assert [e["session"] for e in _events(api)] == [None, None]


def test_a_ticket_stored_under_the_old_rule_is_still_read_and_answered(api):
    old = "s_" + "k" * 10  # what the trail took before its session met the events' rule
    fields = {**FORM, "page_url": "", "locale": "en", "trail": {"session": old}}
    ticket, token = model.new_ticket(fields)
    state = api.app.state.services  # type: ignore[attr-defined]
    state.tickets.add(ticket)
    reference = ticket["reference"]
    shown = api.get(f"/api/v1/tickets/{reference}", headers={"Authorization": f"Bearer {token}"})
    assert shown.status_code == 200
    state.helpdesk.agent_reply(reference, "Try this link.")
    assert state.tickets.get(reference)["trail"] == {"session": old}
    log_in(api)
    assert api.get(f"/admin/tickets/{reference}").status_code == 200
    assert api.get("/admin/insights").status_code == 200


def test_the_spec_states_the_same_rule_for_events_and_trails(api):
    spec = api.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == client_events_openapi()  # generated from the registry
    assert body["schema"]["properties"]["session"]["pattern"] == f"^{SESSION_PATTERN}$"
    ticket = spec["paths"]["/api/v1/tickets"]["post"]["requestBody"]["content"]
    trail = ticket["application/json"]["schema"]["properties"]["trail"]
    assert trail["properties"]["session"]["pattern"] == f"^(?:{SESSION_PATTERN})?$"


# --- the registry ------------------------------------------------------------------------------


def test_the_events_schema_lists_exactly_the_widget_types_of_the_registry():
    kinds = client_events_openapi()["properties"]["events"]["items"]["oneOf"]
    assert [k["properties"]["type"]["const"] for k in kinds] == [
        name for name, kind in EVENT_TYPES.items() if kind.emitter == WIDGET]
    assert set(CLIENT_TYPES) == {"widget_open", "widget_close", "article_view", "contact_open"}
    for kind in kinds:
        declared = EVENT_TYPES[kind["properties"]["type"]["const"]]
        assert set(kind["properties"]) == {"type", *declared.field_names}


def test_every_widget_type_round_trips_with_its_required_fields():
    minimal = {"article_view": {"slug": "a/b"}}
    _, parsed = parse_client_events({"session": WIDGET_IDS[0], "events": [
        {"type": name, **minimal.get(name, {})} for name in sorted(CLIENT_TYPES)]})
    assert sorted(e.type for e in parsed) == sorted(CLIENT_TYPES)
    assert all(set(e.data) == EVENT_TYPES[e.type].field_names for e in parsed)


@pytest.mark.parametrize(("kind", "data", "field"), [
    ("page_view", {}, "type"),  # not in the vocabulary
    ("ticket_created", {"reference": "DB-1", "email": "a@b.c"}, "data.email"),
    ("vote", {"slug": "a", "helpful": True, "ip": "10.0.0.1"}, "data.ip"),
])
def test_the_store_writes_only_the_vocabulary(tmp_path, kind, data, field):
    store = EventStore(tmp_path)
    with pytest.raises(ValidationFailed) as caught:
        store.append_many([NewEvent(WIDGET_IDS[0], "contact_open", {}),
                           NewEvent(WIDGET_IDS[0], kind, data)])
    assert field in caught.value.details
    assert list(store.iter_events()) == []


INSIGHT_MODULES = [*sorted((REPO / "widget_server/insights").glob("*.py")),
                   REPO / "widget_server/events/client.py",
                   REPO / "widget_server/events/store.py",
                   REPO / "widget_server/routes/insights.py",
                   REPO / "widget_server/routes/events.py",
                   REPO / "cli/report.py"]


@pytest.mark.parametrize("path", INSIGHT_MODULES, ids=lambda p: p.name)
def test_readers_name_event_types_only_through_the_registry(path):
    tree = ast.parse(path.read_text())
    spelled = [node.value for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and node.value in EVENT_TYPES]
    assert spelled == []
