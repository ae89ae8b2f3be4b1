"""`deskbell report` and `deskbell export events` over real stores, as an operator runs them."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from cli.main import main
from tests import insights_seed
from tests.test_metrics import EVENTS, TICKETS
from widget_server.events import EventStore, NewEvent, parse_time
from widget_server.tickets import JSONTicketStore


@pytest.fixture
def scenario(tmp_path):
    """The exact scenario of test_metrics, written through the real event and ticket stores."""
    store = EventStore(tmp_path, retention_days=3650)
    store.append_many(NewEvent(e["session"], e["type"], e["data"], parse_time(e["at"]))
                      for e in EVENTS)
    tickets = JSONTicketStore(tmp_path)
    for ticket in TICKETS:
        tickets.add(dict(ticket))
    return tmp_path


# The scenario lies in 2026-03: keep it past the default 180-day retention whatever today is.
KEEP = {"DESKBELL_EVENTS_RETENTION_DAYS": "3650"}


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=KEEP if env is None else env)
    return result.exit_code, result.stdout, result.stderr


def test_json_report_has_every_figure_of_the_scenario(scenario):
    code, out, _ = run("report", "--data-dir", str(scenario), "--since", "2026-03-01",
                       "--until", "2026-03-02", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["since"] == "2026-03-01T00:00:00+00:00"
    assert report["until"] == "2026-03-03T00:00:00+00:00"
    assert report["sessions"]["self_service_rate"] == 0.5
    assert report["sessions"]["search_success_rate"] == 0.5
    assert report["tickets"]["per_day"] == [["2026-03-01", 2], ["2026-03-02", 1]]
    assert report["times"]["first_response"] == {"count": 2, "median": 2700.0, "p90": 3600.0}
    assert report["times"]["unanswered"] == 1
    assert report["satisfaction"]["csat"] == pytest.approx(2 / 3)
    gaps = report["gaps"]
    assert [g["query"] for g in gaps["zero_results"]] == ["refnd", "shipping to mars"]
    assert gaps["zero_results"][0]["action"] == "add a synonym or alias"  # "refund" finds it
    assert [g["slug"] for g in gaps["unhelpful_articles"]] == ["refund-policy"]
    assert report["spikes"] == {"day": [], "week": []}


def test_text_report_reads_as_a_table(scenario):
    code, out, _ = run("report", "--data-dir", str(scenario), "--since", "2026-03-01",
                       "--until", "2026-03-02")
    assert code == 0
    assert "Deskbell report 2026-03-01 to 2026-03-02 (UTC)" in out
    assert "Self-service rate     50.0%" in out
    assert "2026-03-01     2  " in out
    assert "First response  median 45m, p90 1h (2 tickets), 1 unanswered" in out
    assert "refund-policy: 1 of 2 votes unhelpful, 1 then a ticket -> rewrite this article" in out


def test_days_are_counted_in_the_chosen_zone(scenario):
    # DB-T3 (2026-03-02 23:30 UTC) is already the 3rd in Tokyo; DB-T0 (02-28 23:00) the 1st.
    code, out, _ = run("report", "--data-dir", str(scenario), "--since", "2026-03-01",
                       "--until", "2026-03-03", "--tz", "Asia/Tokyo", "--format", "json")
    assert code == 0
    assert json.loads(out)["tickets"]["per_day"] == [
        ["2026-03-01", 3], ["2026-03-02", 0], ["2026-03-03", 1]]


def test_markdown_report_escapes_table_cells(tmp_path):
    store = EventStore(tmp_path, retention_days=3650)
    store.append("s_" + "a" * 22, "search", {"query": "a|b <i>", "results": 0},
                 at=datetime(2026, 3, 1, 9, tzinfo=UTC))
    code, out, _ = run("report", "--data-dir", str(tmp_path), "--since", "2026-03-01",
                       "--until", "2026-03-01", "--format", "markdown")
    assert code == 0
    assert "| a\\|b <i> | 1 |" in out
    assert "## Searches with no results" in out


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """35 days of traffic whose last two days (from 2026-03-27 12:00) spike."""
    path = tmp_path_factory.mktemp("seeded")
    insights_seed.seed(path, datetime(2026, 3, 29, 12, tzinfo=UTC), days=35, per_day=8)
    return path


def test_a_seeded_spike_shows_in_the_report(seeded):
    code, out, _ = run("report", "--data-dir", str(seeded), "--since", "2026-03-01",
                       "--until", "2026-03-29", "--format", "json")
    assert code == 0
    spikes = json.loads(out)["spikes"]
    day = spikes["day"]
    assert spikes["week"] == []  # the same topics again over the week are not repeated
    assert {(s["kind"], s["topic"]) for s in day} == {("query", "login error"),
                                                      ("category", "Billing")}
    spike_start = datetime(2026, 3, 27, 12, tzinfo=UTC)
    for spike in day:
        assert spike_start <= parse_time(spike["started"]) < spike_start + timedelta(hours=6)


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "2026-03-05", "--until", "2026-03-01"], "is after --until"),
    (["--tz", "Mars/Olympus"], "unknown time zone"),
    (["--since", "yesterday"], "Invalid value for '--since'"),
])
def test_bad_options_fail_with_one_clear_line(scenario, args, message):
    code, _, err = run("report", "--data-dir", str(scenario), *args)
    assert code != 0 and message in err


def test_a_missing_data_dir_is_an_error_not_an_empty_report(tmp_path):
    code, _, err = run("report", "--data-dir", str(tmp_path / "nope"))
    assert code == 1 and "no Deskbell data" in err
    assert not (tmp_path / "nope").exists()


def test_alert_refuses_a_loopback_webhook(seeded, tmp_path):
    code, _, err = run("report", "--data-dir", str(seeded), "--until", "2026-03-29",
                       "--alert", "--format", "json")
    assert code == 1 and "needs the webhook_url setting" in err
    (tmp_path / "deskbell.toml").write_text('webhook_url = "http://127.0.0.1:9/hook"\n')
    code, _, err = run("report", "--data-dir", str(seeded), "--until", "2026-03-29",
                       "--alert", "--config", str(tmp_path / "deskbell.toml"))
    assert code == 1 and "not a public address" in err


def test_report_deletes_event_files_past_retention(scenario):
    code, _, _ = run("report", "--data-dir", str(scenario), "--until", "2026-03-02",
                     env={"DESKBELL_EVENTS_RETENTION_DAYS": "1"})
    assert code == 0
    assert list((scenario / "events").iterdir()) == []


def test_report_and_export_have_help_with_an_example():
    for args in (["report", "--help"], ["export", "events", "--help"]):
        code, out, _ = run(*args)
        assert code == 0 and "Example:" in out


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_export_events_round_trips_every_event(scenario, fmt):
    code, out, err = run("export", "events", "--data-dir", str(scenario), "--format", fmt)
    assert code == 0 and "exported 15 events" in err
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        types = [r["type"] for r in rows]
        assert json.loads(rows[0]["data"]) == {"locale": "en", "query": "refund", "results": 3}
    else:
        rows = json.loads(out) if fmt == "json" else [json.loads(x) for x in out.splitlines()]
        types = [r["type"] for r in rows]
        assert set(rows[0]) == {"at", "session", "type", "data"}
    assert len(types) == 15 and types.count("ticket_created") == 2


def test_export_events_by_day(scenario):
    code, out, _ = run("export", "events", "--data-dir", str(scenario), "--since", "2026-03-02",
                       "--until", "2026-03-02")
    assert code == 0
    assert [json.loads(x)["type"] for x in out.splitlines()] == ["article_view"]


def test_an_events_day_that_cannot_be_read_is_one_line_and_exit_1(tmp_path):
    broken = tmp_path / "data" / "events" / "2026-03-02.jsonl"
    broken.mkdir(parents=True)
    for command in (["report"], ["export", "events"]):
        code, out, err = run(*command, "--data-dir", str(tmp_path / "data"), "--since",
                             "2026-03-01", "--until", "2026-03-03")
        assert code == 1, (command, out, err)
        assert err == (f"Error: Events cannot be read: {broken} (Is a directory); nothing was "
                       "changed\n"), command
