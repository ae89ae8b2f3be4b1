"""One report, two renderings: /admin/insights and `deskbell report --format json` read the same
typed Report from one loader, so for the same data they show the same figures; and a report
groups its sessions and clusters its queries once, so a gap, a spike and a top search that are
one question share one group."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from cli.main import main
from tests import insights_seed
from tests.test_admin import admin_client
from tests.test_report_cli import KEEP
from widget_server import queries
from widget_server.events import EventStore
from widget_server.insights import (
    Report,
    day_range,
    format_duration,
    format_rate,
    load_report,
    to_jsonable,
)
from widget_server.insights import facts as facts_module
from widget_server.tickets import JSONTicketStore

NOW = datetime(2026, 3, 29, 12, tzinfo=UTC)
SINCE, UNTIL, TZ = "2026-03-01", "2026-03-29", "Europe/Paris"  # the range crosses a DST change
JSON_KEYS = ["since", "until", "timezone", "sessions", "self_service", "self_service_daily", "tickets", "times",
             "satisfaction", "articles", "top_searches", "gaps", "spikes", "agents"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """35 days of traffic whose last two days (from 2026-03-27 12:00) spike."""
    path = tmp_path_factory.mktemp("seeded")
    insights_seed.seed(path, NOW, days=35, per_day=8)
    return path


@pytest.fixture(scope="module")
def cli_report(seeded: Any) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["report", "--data-dir", str(seeded), "--since", SINCE,
                                       "--until", UNTIL, "--tz", TZ, "--format", "json"],
                                env=KEEP)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
def page(seeded: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with admin_client(tmp_path_factory.mktemp("kb"), seeded) as client:
        answer = client.get(f"/admin/insights?since={SINCE}&until={UNTIL}&tz={TZ}")
        assert answer.status_code == 200
        yield answer.text


def _section(html: str, start: str, end: str) -> str:
    """From `start` up to the next `end` after it."""
    first = html.index(start)
    return html[first:html.index(end, first + len(start))]


def _kpis(html: str) -> dict[str, tuple[str, str]]:
    found = re.findall(r'<div><dt>([^<]+)</dt><dd>([^<]*)</dd><dd class="sub">([^<]*)</dd>',
                       html)
    return {unescape(name): (unescape(value), unescape(sub)) for name, value, sub in found}


def _cells(html: str) -> list[list[str]]:
    """Each table row of html as the text of its cells."""
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        if cells:
            rows.append([unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows


def test_the_json_report_keeps_its_keys_and_leaves_the_query_groups_out(cli_report):
    assert list(cli_report) == JSON_KEYS


def test_the_admin_page_shows_the_figures_of_the_json_report(cli_report, page):
    s, t, tm, sat = (cli_report[k] for k in ("sessions", "tickets", "times", "satisfaction"))
    assert s["help_sessions"] > 0 and t["total"] > 0 and sat["ratings"] > 0  # a real comparison
    assert _kpis(page) == {
        "Help sessions": (str(s["help_sessions"]), f"{s['engaged_sessions']} searched or read"),
        "Self-service rate": (format_rate(s["self_service_rate"]),
                              f"{s['self_served_sessions']} without a ticket"),
        "Search success": (format_rate(s["search_success_rate"]),
                           f"{format_rate(s['zero_result_rate'])} found nothing"),
        "Tickets": (str(t["total"]), f"{tm['unanswered']} unanswered"),
        "First response": (format_duration(tm["first_response"]["median"]),
                           f"median · p90 {format_duration(tm['first_response']['p90'])}"),
        "Resolution": (format_duration(tm["resolution"]["median"]),
                       f"median · p90 {format_duration(tm['resolution']['p90'])}"),
        "CSAT": (format_rate(sat["csat"]), f"{sat['ratings']} ratings"),
        "CES": (f"{sat['ces']:.1f}", "1 (easy) to 7"),
    }
    per_category = _cells(_section(page, 'id="cat-h"', "</section>"))
    assert per_category == [[name, str(n)] for name, n in t["per_category"]]
    bars = re.findall(r"<title>(\w{3} \d\d): (\d+) tickets</title>", page)
    assert [int(n) for _, n in bars] == [n for _, n in t["per_day"]]


def test_the_admin_page_shows_the_gaps_spikes_and_articles_of_the_json_report(cli_report, page):
    gaps = cli_report["gaps"]
    assert gaps["zero_results"] and gaps["ticket_queries"] and gaps["unhelpful_articles"]
    zero = _cells(_section(page, "<h3>Searches that found nothing", "<h3>"))
    assert [(row[0].split(" also ")[0], row[1], row[2]) for row in zero] == [
        (g["query"], str(g["searches"]), g["action"]) for g in gaps["zero_results"]]
    ticketed = _cells(_section(page, "<h3>Searches that ended in a ticket", "<h3>"))
    assert [(row[0], row[1], row[3]) for row in ticketed] == [
        (g["query"], f"{g['tickets']} of {g['sessions']}", g["action"])
        for g in gaps["ticket_queries"]]
    unhelpful = _cells(_section(page, "<h3>Articles voted unhelpful", "</section>"))
    assert [row[:3] for row in unhelpful] == [
        [g["slug"], f"{g['helpful']} of {g['votes']}", str(g["then_ticket"])]
        for g in gaps["unhelpful_articles"]]
    assert any(g["reason_counts"] for g in gaps["unhelpful_articles"])  # the seed says "unclear"
    assert [row[3].split(";")[0] if g["reason_counts"] else "" for row, g in
            zip(unhelpful, gaps["unhelpful_articles"], strict=True)] == [
        ", ".join(f"{code} {n}" for code, n in g["reason_counts"].items())
        for g in gaps["unhelpful_articles"]]
    articles = _cells(_section(page, 'id="art-h"', "</section>"))
    assert articles == [[a["slug"], str(a["views"]), str(a["helpful"] + a["not_helpful"]),
                         format_rate(a["helpful_ratio"])] for a in cli_report["articles"][:20]]
    spikes = [*cli_report["spikes"]["day"], *cli_report["spikes"]["week"]]
    assert spikes
    shown = re.findall(r"<strong>(.*?)</strong>:\s*(\d+) in the last (day|\d+ days), about "
                       r"([\d.]+) expected", page, flags=re.S)
    assert [(unescape(re.sub(r"<[^>]+>", "", what)), int(n), f"{float(e):.1f}")
            for what, n, _, e in shown] == [
        (f"{x['topic']} tickets" if x["kind"] == "category"
         else f"Searches for \u201c{x['topic']}\u201d finding nothing",
         x["observed"], f"{x['expected']:.1f}") for x in spikes]
    desc = re.findall(r"<title>Top searches</title><desc>([^<]*)</desc>", page)
    assert desc == [", ".join(f"{q} {n}" for q, n in cli_report["top_searches"])]


def _load(seeded: Any) -> Report:
    tz = ZoneInfo(TZ)
    since, until = day_range(datetime.fromisoformat(SINCE).date(),
                             datetime.fromisoformat(UNTIL).date(), tz)
    events = EventStore(seeded, retention_days=3650)
    return load_report(events, JSONTicketStore(seeded), since, until, tz)


def test_the_loader_gives_the_report_the_command_prints(seeded, cli_report):
    assert to_jsonable(_load(seeded)) == cli_report


def test_queries_are_clustered_once_per_report(seeded, monkeypatch):
    calls: list[int] = []

    def counted(counts: Any) -> Any:
        calls.append(len(counts))
        return queries.cluster_queries(counts)

    monkeypatch.setattr(facts_module, "cluster_queries", counted)
    _load(seeded)
    assert len(calls) == 1


def test_gaps_spikes_and_top_searches_share_the_report_query_groups(seeded):
    report = _load(seeded)
    groups = report.queries
    zero_keys = []
    for gap in report.gaps.zero_results:  # every spelling of a row is in the row's group
        keys = {groups.key(q) for q, _ in gap.variants}
        assert len(keys) == 1
        zero_keys += keys
    assert len(zero_keys) == len(set(zero_keys))  # and no two rows share a group
    assert any(len(gap.variants) > 1 for gap in report.gaps.zero_results)  # refund, refnd...
    for gap in report.gaps.ticket_queries:
        assert len({groups.key(q) for q, _ in gap.variants}) == 1
    by_key = {groups.key(g.query): g for g in report.gaps.zero_results}
    query_spikes = [s for s in report.spikes.day + report.spikes.week if s.kind == "query"]
    assert query_spikes
    for spike in query_spikes:  # a spiking failed search is a failed-search gap of the range
        assert groups.key(spike.topic) in by_key
        assert {e["query"] for e in spike.examples} <= {
            q for q, _ in by_key[groups.key(spike.topic)].variants}
    assert all(q in groups for q, _ in report.top_searches)
