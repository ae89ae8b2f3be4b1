"""Content gaps say what to write next; spikes flag a topic running far above its baseline."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from widget_server.errors import ValidationFailed
from widget_server.events import parse_client_events
from widget_server.insights import (
    Activity,
    WebhookRefused,
    article_gaps,
    find_spikes,
    post_webhook,
    ticket_query_gaps,
    zero_result_gaps,
)
from widget_server.queries import cluster_queries, normalize_query, public_page_url

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)


def sid(n: int) -> str:
    return f"s_{n:022d}"


def ev(session: str, when: datetime, kind: str, **data: Any) -> dict[str, Any]:
    return {"at": when.isoformat(), "session": session, "type": kind, "data": data}


# --- queries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "normal"), [
    ("  How do I get a REFUND?!  ", "how do i get a refund"),
    ("¿Dónde está mi pedido?", "dónde está mi pedido"),
    ("ＲＥＦＵＮＤ", "refund"),  # full-width letters
    ("reset\t\n password...", "reset password"),
    ("Straße", "strasse"),
    ("?!…", ""),
    ("x" * 300, "x" * 200),
    ("nul\x00in\x07side\x1b", "nul in side"),  # control characters are not words
])
def test_queries_are_normalized(raw, normal):
    assert normalize_query(raw) == normal


def test_refund_refunds_and_refnd_are_one_group_and_shipping_another():
    clusters = cluster_queries({"refund": 5, "refunds": 3, "refnd": 1, "shipping": 2})
    assert clusters["refund"] is clusters["refunds"] is clusters["refnd"]
    assert clusters["refund"].label == "refund" and clusters["refund"].count == 9
    assert clusters["shipping"] is not clusters["refund"]


def test_short_words_are_not_merged_by_edit_distance():
    clusters = cluster_queries({"tax": 2, "fax": 1})
    assert clusters["tax"] is not clusters["fax"]


def test_page_urls_lose_query_strings_that_may_carry_personal_data():
    assert public_page_url("https://shop.example/account?email=a@b.c#x") == \
        "https://shop.example/account"
    assert public_page_url("https://u:p@shop.example:8443/a") == "https://shop.example:8443/a"
    assert public_page_url("javascript:alert(1)") == ""


# --- client events -----------------------------------------------------------------------------


def test_client_events_are_validated_and_normalized():
    session, events = parse_client_events({"session": sid(1), "events": [
        {"type": "widget_open", "page_url": "https://shop.example/cart?coupon=X"},
        {"type": "article_view", "slug": "billing/refunds", "source": "suggestion"},
        {"type": "article_view", "slug": "billing/refunds"},  # reached from a search
        {"type": "contact_open"},
        {"type": "widget_close"},
    ]})
    assert session == sid(1)
    assert [(e.type, dict(e.data)) for e in events] == [
        ("widget_open", {"page_url": "https://shop.example/cart"}),
        ("article_view", {"slug": "billing/refunds", "source": "suggestion"}),
        ("article_view", {"slug": "billing/refunds", "source": "search"}),
        ("contact_open", {}),
        ("widget_close", {}),
    ]


def test_every_bad_field_is_named_and_nothing_is_accepted():
    with pytest.raises(ValidationFailed) as caught:
        parse_client_events({"session": "s_short", "ip": "1.2.3.4", "events": [
            {"type": "search", "query": "refund", "results": 99},  # the server counts these
            {"type": "article_view", "slug": "../../etc", "source": "email"},
            {"type": "ticket_created", "reference": "DB-X"},  # server-side only
            {"type": "contact_open", "email": "a@b.c"},
            {"type": "widget_open", "page_url": 7},
        ]})
    assert set(caught.value.details) == {
        "session", "ip", "events[0].type", "events[1].slug", "events[1].source",
        "events[2].type", "events[3].email", "events[4].page_url",
    }


def test_too_many_events_in_one_request_are_refused():
    with pytest.raises(ValidationFailed) as caught:
        parse_client_events({"session": sid(1), "events": [{"type": "contact_open"}] * 21})
    assert "events" in caught.value.details


# --- gaps --------------------------------------------------------------------------------------


def _gap_events() -> list[dict[str, Any]]:
    t = NOW - timedelta(days=1)
    events = []
    for n, query in enumerate(["refund", "refunds", "refnd", "refund", "mars delivery"]):
        events.append(ev(sid(n), t, "search", query=query, results=0))
    events.append(ev(sid(9), t, "search", query="mars delivery", results=0))
    # "password reset" sometimes finds articles: a synonym problem, not a missing article.
    events.append(ev(sid(10), t, "search", query="pasword reset", results=0))
    events.append(ev(sid(11), t, "search", query="password reset", results=4))
    return events


def test_zero_result_gaps_are_grouped_ranked_and_get_an_action():
    rows = zero_result_gaps(Activity.build([], _gap_events()))
    assert [(r.query, r.searches, r.action) for r in rows] == [
        ("refund", 4, "write an article"),
        ("mars delivery", 2, "write an article"),
        ("pasword reset", 1, "add a synonym or alias"),
    ]
    # Spellings most searched first, ties alphabetically (the same from every store).
    assert list(rows[0].variants) == [("refund", 2), ("refnd", 1), ("refunds", 1)]


def test_queries_that_end_in_tickets():
    t = NOW - timedelta(hours=5)
    events = []
    for n in range(3):  # three sessions search "cancel order", two of them open a ticket
        events.append(ev(sid(n), t, "search", query="cancel order", results=2))
        if n < 2:
            events.append(ev(sid(n), t + timedelta(minutes=3), "ticket_created",
                             reference=f"DB-{n}", category="orders"))
    events.append(ev(sid(7), t, "search", query="invoice copy", results=0))
    events.append(ev(sid(7), t + timedelta(minutes=1), "ticket_created", reference="DB-7"))
    events.append(ev(sid(8), t, "search", query="unrelated", results=1))  # no ticket
    rows = ticket_query_gaps(Activity.build([], events))
    assert [(r.query, r.tickets, r.sessions, list(r.references), r.action)
            for r in rows] == [
        ("cancel order", 2, 3, ["DB-0", "DB-1"], "rewrite the articles this search finds"),
        ("invoice copy", 1, 1, ["DB-7"], "write an article"),
    ]


def test_articles_voted_unhelpful_then_followed_by_a_ticket_come_first():
    t = NOW - timedelta(hours=5)
    events = [
        ev(sid(1), t, "vote", slug="refund-policy", helpful=False, reason="outdated",
           comment=""),
        ev(sid(1), t, "vote", slug="refund-policy", helpful=False, reason="Old prices"),  # old shape
        ev(sid(1), t + timedelta(minutes=2), "ticket_created", reference="DB-1"),
        ev(sid(2), t, "vote", slug="shipping", helpful=False),
        ev(sid(3), t, "vote", slug="shipping", helpful=False),
        ev(sid(4), t, "vote", slug="shipping", helpful=True),
        ev(sid(5), t, "vote", slug="great", helpful=True),
        ev(sid(6), t, "vote", slug="great", helpful=True),
        ev(sid(7), t, "vote", slug="great", helpful=True),
        ev(sid(8), t, "vote", slug="one-down", helpful=False),  # too few votes, no ticket
    ]
    rows = article_gaps(Activity.build([], events))
    assert [(r.slug, r.then_ticket, r.not_helpful, r.votes) for r in rows] == [
        ("refund-policy", 1, 2, 2), ("shipping", 0, 2, 3)]
    assert list(rows[0].reasons) == ["Old prices"] and list(rows[0].references) == ["DB-1"]
    assert rows[0].reason_summary == "outdated 1" and rows[1].reason_counts == ()
    assert rows[0].action == "rewrite this article"


# --- spikes ------------------------------------------------------------------------------------


def _tickets(category: str, per_day: list[int], end: datetime) -> list[dict[str, Any]]:
    """per_day[-1] is the last day before `end`; tickets spread over each day."""
    out = []
    for back, count in enumerate(reversed(per_day)):
        day_end = end - timedelta(days=back)
        for i in range(count):
            created = day_end - timedelta(hours=23) + timedelta(minutes=20 * i)
            out.append({"reference": f"DB-{category}-{back}-{i}", "subject": f"{category} {i}",
                        "category": category, "created_at": created.isoformat()})
    return out


def test_a_seeded_ticket_spike_is_found_with_its_start_and_examples():
    flat = _tickets("shipping", [2] * 35, NOW)
    spiking = _tickets("billing", [1, 0] * 13 + [1, 0, 1, 9, 12], NOW)  # ~0.5/day, then 9, 12
    spikes = find_spikes(Activity.build(flat + spiking, []), NOW, window_days=1)
    assert [(s.kind, s.topic, s.observed) for s in spikes] == [("category", "billing", 12)]
    assert spikes[0].started == NOW - timedelta(days=1, hours=23)  # first ticket of the 9-day
    assert len(spikes[0].examples) == 5 and "reference" in spikes[0].examples[0]
    weekly = find_spikes(Activity.build(flat + spiking, []), NOW, window_days=7)
    assert [s.topic for s in weekly] == ["billing"]


def test_a_flat_series_and_small_counts_raise_nothing():
    flat = _tickets("shipping", [3] * 35, NOW)
    noisy = _tickets("returns", [0] * 28 + [0, 0, 0, 0, 0, 1, 4], NOW)  # new, but below 5
    assert list(find_spikes(Activity.build(flat + noisy, []), NOW)) == []
    assert list(find_spikes(Activity.build([], []), NOW)) == []


def test_failed_searches_spike_as_a_query_group():
    events = [ev(sid(n), NOW - timedelta(hours=n + 1), "search", query=q, results=0)
              for n, q in enumerate(["login error", "login errors", "loggin error"] * 3)]
    events += [ev(sid(99), NOW - timedelta(days=10), "search", query="login error", results=0)]
    spikes = find_spikes(Activity.build([], events), NOW)
    assert [(s.kind, s.topic, s.observed) for s in spikes] == [("query", "login error", 9)]
    assert {e["query"] for e in spikes[0].examples} <= {"login error", "login errors",
                                                        "loggin error"}


# --- webhook -----------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Any]]]:
    received: list[Any] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


def test_webhook_refuses_loopback_private_and_link_local_targets(receiver):
    url, received = receiver
    for target in (url, "http://10.1.2.3/hook", "http://169.254.169.254/latest",
                   "http://[::1]/x", "http://localhost/x", "ftp://example.com/x"):
        with pytest.raises(WebhookRefused):
            post_webhook(target, {"spikes": []})
    assert received == []


def test_webhook_posts_json_when_the_test_override_allows_a_local_server(receiver):
    url, received = receiver
    assert post_webhook(url, {"spikes": [{"topic": "billing"}]}, allow_private=True) == 204
    assert received == [{"spikes": [{"topic": "billing"}]}]
