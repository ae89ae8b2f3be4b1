"""Every metric of a scripted month-day of help sessions and tickets, asserted exactly."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from widget_server.insights import (
    Activity,
    Report,
    TicketVolume,
    article_stats,
    build_report,
    nearest_rank,
    response_times,
    satisfaction,
    session_summary,
    ticket_volume,
)

UTCZ = ZoneInfo("UTC")
NY = ZoneInfo("America/New_York")


def sid(name: str) -> str:
    return "s_" + name * 22


def at(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).isoformat()


def ev(session: str | None, when: str, kind: str, **data: Any) -> dict[str, Any]:
    return {"at": at(when), "session": session, "type": kind, "data": data}


def ticket(ref: str, created: str, category: str = "", **fields: Any) -> dict[str, Any]:
    # Stored tickets always carry a status (the JSON store counts them per status).
    status = "solved" if fields.get("solved_at") else "open" if fields.get("first_reply_at") \
        else "new"
    base = {"reference": ref, "subject": f"subject {ref}", "created_at": at(created),
            "category": category, "status": status, "first_reply_at": None, "solved_at": None,
            "ratings": []}
    for key in ("first_reply_at", "solved_at"):
        if fields.get(key):
            fields[key] = at(fields[key])
    return {**base, **fields}


def rating(when: str, csat: int, ces: int | None = None, nps: int | None = None,
           resolution: int = 1) -> dict[str, Any]:
    return {"csat": csat, "ces": ces, "nps": nps, "comment": "", "at": at(when),
            "resolution": resolution}


A, B, C, D, E = (sid(x) for x in "ABCDE")
EVENTS = [
    # A searched, read the answer, found it helpful: self-served.
    ev(A, "2026-03-01T09:00", "search", query="refund", results=3, locale="en"),
    ev(A, "2026-03-01T09:01", "article_view", slug="refund-policy", source="search"),
    ev(A, "2026-03-01T09:02", "vote", slug="refund-policy", helpful=True, reason=""),
    # B misspelt, retried, read, voted it unhelpful and opened a ticket.
    ev(B, "2026-03-01T10:00", "search", query="refnd", results=0, locale="en"),
    ev(B, "2026-03-01T10:01", "search", query="refund", results=3, locale="en"),
    ev(B, "2026-03-01T10:02", "article_view", slug="refund-policy", source="search"),
    ev(B, "2026-03-01T10:03", "vote", slug="refund-policy", helpful=False, reason="outdated"),
    ev(B, "2026-03-01T10:05", "contact_open"),
    ev(B, "2026-03-01T10:10", "ticket_created", reference="DB-T1", category="billing"),
    # C only opened the widget: a help session, but not engaged.
    ev(C, "2026-03-01T11:00", "widget_open", page_url="https://shop.example/cart"),
    # D searched for something the KB lacks and opened a ticket.
    ev(D, "2026-03-01T10:55", "search", query="shipping to mars", results=0, locale="en"),
    ev(D, "2026-03-01T10:58", "contact_open"),
    ev(D, "2026-03-01T11:00", "ticket_created", reference="DB-T2", category="shipping"),
    # E read a suggested article and left happy.
    ev(E, "2026-03-02T15:00", "article_view", slug="track-order", source="suggestion"),
    # Outside the range: never counted.
    ev(sid("F"), "2026-03-03T00:00", "search", query="late", results=0),
]
TICKETS = [
    ticket("DB-T1", "2026-03-01T10:10", "billing", first_reply_at="2026-03-01T10:40",
           solved_at="2026-03-02T09:10",  # solved 12:10, reopened, solved again next day
           ratings=[rating("2026-03-01T12:30", 5, ces=2, nps=10),
                    rating("2026-03-02T09:30", 2, ces=6, nps=3, resolution=2)]),
    ticket("DB-T2", "2026-03-01T11:00", "shipping"),  # never answered
    ticket("DB-T3", "2026-03-02T23:30", "billing", first_reply_at="2026-03-03T00:30"),
    # Created before the range, rated inside it: the rating counts, the ticket does not.
    ticket("DB-T0", "2026-02-28T23:00", first_reply_at="2026-02-28T23:10",
           solved_at="2026-02-28T23:50", ratings=[rating("2026-03-01T08:00", 4, nps=9)]),
]
SINCE, UNTIL = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)


@pytest.fixture
def report() -> Report:
    return build_report(TICKETS, EVENTS, SINCE, UNTIL, UTCZ)


def test_sessions_self_service_and_search_success(report):
    assert asdict(report.sessions) == {
        "help_sessions": 5,
        "engaged_sessions": 4,
        "self_served_sessions": 2,
        "self_service_rate": 0.5,
        "searches": 4,
        "successful_searches": 2,  # A's and B's second; B's typo and D's search failed
        "search_success_rate": 0.5,
        "zero_result_searches": 2,
        "zero_result_rate": 0.5,
    }


def test_daily_self_service_counts_a_session_on_its_first_day(report):
    assert list(report.self_service_daily) == [
        (date(2026, 3, 1), 1 / 3, 3), (date(2026, 3, 2), 1.0, 1)]


def test_ticket_volume_per_day_and_category(report):
    assert report.tickets == TicketVolume(
        total=3,
        per_day=((date(2026, 3, 1), 2), (date(2026, 3, 2), 1)),
        per_category=(("billing", 2), ("shipping", 1)),
    )


def test_first_response_and_resolution_times(report):
    times = report.times
    assert (times.first_response.median, times.first_response.p90) == (2700, 3600)
    assert times.first_response.count == 2 and times.unanswered == 1
    assert (times.resolution.median, times.resolution.p90) == (82800, 82800)
    assert times.unresolved == 2


def test_satisfaction_counts_every_rating_given_in_range_including_after_reopening(report):
    assert asdict(report.satisfaction) == {
        "ratings": 3, "csat": 2 / 3, "ces": 4.0, "ces_answers": 2,
        "nps": pytest.approx(100 / 3), "nps_answers": 3,
    }


def test_article_views_and_helpful_ratio(report):
    stats = {s.slug: s for s in report.articles}
    assert stats["refund-policy"].views == 2 and stats["refund-policy"].helpful_ratio == 0.5
    assert stats["refund-policy"].sources == {"search": 2}
    assert stats["track-order"].views == 1 and stats["track-order"].helpful_ratio is None
    assert [s.slug for s in report.articles] == ["refund-policy", "track-order"]


def test_top_searches(report):
    assert list(report.top_searches) == [("refund", 2), ("refnd", 1), ("shipping to mars", 1)]


def test_no_data_gives_zero_counts_and_no_rates():
    empty = build_report([], [], SINCE, UNTIL, UTCZ)
    assert empty.sessions.help_sessions == 0
    assert empty.sessions.self_service_rate is None
    assert list(empty.tickets.per_day) == [(date(2026, 3, 1), 0), (date(2026, 3, 2), 0)]
    assert empty.times.first_response.median is None
    assert empty.satisfaction.csat is None and empty.satisfaction.nps is None
    assert list(empty.articles) == [] and list(empty.top_searches) == []


def test_a_range_crossing_midnight_lists_both_days():
    since = datetime(2026, 3, 1, 22, tzinfo=UTC)
    volume = ticket_volume(TICKETS, since, since + timedelta(hours=4), UTCZ)
    assert list(volume.per_day) == [(date(2026, 3, 1), 0), (date(2026, 3, 2), 0)]


def test_days_follow_the_chosen_zone_across_a_dst_change():
    # US clocks spring forward at 02:00 on 2026-03-08 (EST -5 to EDT -4).
    tickets = [
        ticket("E0", "2026-03-08T04:59"),  # 23:59 EST on the 7th: outside
        ticket("E1", "2026-03-08T06:30"),  # 01:30 EST on the 8th
        ticket("E2", "2026-03-08T07:30"),  # 03:30 EDT on the 8th
        ticket("E3", "2026-03-09T03:30"),  # 23:30 EDT on the 8th
        ticket("E4", "2026-03-09T04:30"),  # 00:30 EDT on the 9th
    ]
    since = datetime(2026, 3, 8, tzinfo=NY)
    until = datetime(2026, 3, 10, tzinfo=NY)
    volume = ticket_volume(tickets, since, until, NY)
    assert list(volume.per_day) == [(date(2026, 3, 8), 3), (date(2026, 3, 9), 1)]
    assert volume.total == 4
    # The same instants in UTC fall on other days.
    utc = list(ticket_volume(tickets, since, until, UTCZ).per_day)
    assert utc == [(date(2026, 3, 8), 2), (date(2026, 3, 9), 2), (date(2026, 3, 10), 0)]


def test_the_short_dst_day_keeps_its_last_minute_and_not_the_next():
    since, until = datetime(2026, 3, 8, tzinfo=NY), datetime(2026, 3, 9, tzinfo=NY)
    tickets = [ticket("L", "2026-03-09T03:59"),  # 23:59 EDT, the 23-hour day's last minute
               ticket("M", "2026-03-09T04:00")]  # 00:00 EDT on the 9th
    volume = ticket_volume(tickets, since, until, NY)
    assert list(volume.per_day) == [(date(2026, 3, 8), 1)]


def test_a_search_succeeds_only_with_a_view_before_the_next_search():
    s = sid("G")
    events = [ev(s, "2026-03-01T09:00", "search", query="a", results=1),
              ev(s, "2026-03-01T09:01", "search", query="b", results=1),
              ev(s, "2026-03-01T09:02", "vote", slug="x", helpful=True),
              ev(s, "2026-03-01T09:03", "article_view", slug="x", source="search")]
    got = session_summary(Activity.build([], events))
    assert (got.searches, got.successful_searches) == (2, 1)


def test_nearest_rank_percentile():
    assert nearest_rank(list(range(1, 11)), 90) == 9
    assert nearest_rank(list(range(1, 21)), 90) == 18
    assert nearest_rank([7.0], 90) == 7.0
    assert nearest_rank([], 90) is None


def test_ratings_outside_the_range_and_tickets_without_ratings_are_ignored():
    got = satisfaction(TICKETS, datetime(2026, 3, 2, tzinfo=UTC), UNTIL)
    assert (got.ratings, got.csat, got.ces) == (1, 0.0, 6.0)
    assert got.nps == -100.0


def test_unanswered_only_range():
    got = response_times([ticket("X", "2026-03-01T00:00")], SINCE, UNTIL)
    assert got.unanswered == 1 and got.first_response.count == 0


def test_votes_without_views_still_count():
    stats = article_stats(Activity.build([], [ev(A, "2026-03-01T09:00", "vote", slug="x",
                                                helpful=False)]))
    assert (stats[0].views, stats[0].not_helpful, stats[0].helpful_ratio) == (0, 1, 0.0)
