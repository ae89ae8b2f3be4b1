"""Notices: the owner's banner at the top of the help panel, published from the CLI or from a
spike on /admin/insights, shown to visitors in their language until it expires or is cleared,
escaped everywhere, shared by every node over PostgreSQL, and exported."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from cli.main import main
from tests import insights_seed
from tests.adversarial.test_sinks import PAYLOADS
from tests.test_admin import PASSWORD, log_in
from widget_server.app import create_app
from widget_server.errors import StorageUnavailable
from widget_server.notices import (
    JSONNoticeStore,
    MemoryNoticeStore,
    Notice,
    NoticeBoard,
    NoticeInvalid,
    new_notice,
)
from widget_server.openapi import NOTICE
from widget_server.search import reindex
from widget_server.settings import Settings
from widget_server.tickets import pg_schema

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = "2099-01-01T18:00"


def invoke(settings: Settings, *args: str, env: dict[str, str] | None = None) -> Result:
    """`deskbell <args>` over the test's kb and data folders."""
    return CliRunner().invoke(main, [*args, "--kb", str(settings.kb_dir),
                                     "--data-dir", str(settings.data_dir)], env=env)


def publish(text: str = "Checkout is failing; we're on it", *, at: datetime = T0,
            hours: float = 2, **kwargs: Any) -> Notice:
    return new_notice(text, until=at + timedelta(hours=hours), now=at, **kwargs)


class Clock:
    """Wall and monotonic time that move only when a test says so."""

    def __init__(self, start: datetime) -> None:
        self.now, self.mono = start, 0.0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


def board_over(store: Any, clock: Clock, ttl: float = 5.0) -> NoticeBoard:
    return NoticeBoard(store, ttl=ttl, clock=lambda: clock.now, monotonic=lambda: clock.mono)


# --- what a notice is -------------------------------------------------------------------------


def test_a_notice_expires_at_its_until_without_any_job():
    clock = Clock(T0)
    board = board_over(MemoryNoticeStore(), clock)
    notice = board.publish(publish(hours=1))
    assert board.current() == notice
    clock.advance(59 * 60 + 59)
    assert board.current() == notice  # still cached, still before until
    clock.advance(1)
    assert board.current() is None and board.showing() == []
    assert notice.status(clock.now) == "expired"


def test_the_newest_showing_notice_is_the_one_the_panel_gets():
    clock = Clock(T0)
    board = board_over(MemoryNoticeStore(), clock)
    first = board.publish(publish("Logins are slow", hours=3))
    clock.advance(60)
    second = board.publish(publish("Checkout is failing", at=clock.now, hours=1))
    assert board.current() == second
    clock.advance(3600)  # the newer one ended first: the older one shows again
    assert board.current() == first


def test_visitors_read_their_language_else_the_default_text():
    notice = publish("Checkout is failing", texts={"de": "Der Checkout fällt aus",
                                                   "ar": "الدفع متعطل"})
    assert notice.for_panel("de")["text"] == "Der Checkout fällt aus"
    assert notice.for_panel("de-AT")["text"] == "Der Checkout fällt aus"
    assert notice.for_panel("ar")["text"] == "الدفع متعطل"
    assert notice.for_panel("fr")["text"] == "Checkout is failing"
    assert notice.for_panel(None)["text"] == "Checkout is failing"


@pytest.mark.parametrize(("kwargs", "field", "words"), [
    ({"text": "   "}, "text", "is empty"),
    ({"text": "x" * 201}, "text", "201 characters long; a notice holds at most 200"),
    ({"text": "bad\x07bell"}, "text", "control character (U+0007) at character 4"),
    ({"text": "two\nlines"}, "text", "control character (U+000A)"),
    ({"text": "sep\u2028arated"}, "text", "control character (U+2028)"),
    ({"texts": {"xx": "hallo"}}, "texts", "unknown locale 'xx'; the panel speaks ar, de, en"),
    ({"texts": {"de": ""}}, "texts", "the de text is empty"),
    ({"until": "tomorrow"}, "until", "'tomorrow' is not a time like 2026-12-01T18:00"),
    ({"until": "2026-03-02T08:59"}, "until", "is in the past (now is 2026-03-02T09:00:00"),
    ({"until": "2026-03-02T09:00Z"}, "until", "is in the past"),
    ({"article": "no/such-article"}, "article", "no public article 'no/such-article'"),
    ({"article": " "}, "article", "is empty"),
])
def test_each_bad_field_is_refused_with_its_reason(kwargs, field, words):
    values: dict[str, Any] = {"text": "Checkout is failing", "until": "2026-03-02T18:00",
                              "now": T0, "find_article": lambda slug: None, **kwargs}
    text = values.pop("text")
    with pytest.raises(NoticeInvalid) as refused:
        new_notice(text, **values)
    assert list(refused.value.problems) == [field]
    assert words in refused.value.problems[field]
    assert refused.value.status == 422


def test_until_is_utc_unless_it_carries_an_offset():
    assert publish().until == T0 + timedelta(hours=2)
    local = new_notice("x", until="2026-03-02T18:00+02:00", now=T0)
    assert local.until == datetime(2026, 3, 2, 16, tzinfo=UTC)
    assert new_notice("x", until="2026-03-02T18:00", now=T0).until.hour == 18


# --- the JSON store: several writers at once --------------------------------------------------


def test_the_json_file_keeps_every_notice_when_processes_publish_at_once(settings):
    Path(settings.data_dir).mkdir(parents=True)
    env = {**os.environ, "DESKBELL_DATA_DIR": str(settings.data_dir),
           "DESKBELL_KB_DIR": str(settings.kb_dir)}
    writers = [subprocess.Popen(
        [str(Path(sys.executable).parent / "deskbell"), "notice", "set", f"Writer {n}",
         "--until", LATER],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).parents[1])
        for n in range(6)]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    kept = JSONNoticeStore(settings.data_dir).all()
    assert sorted(n.text for n in kept) == [f"Writer {n}" for n in range(6)]
    assert (Path(settings.data_dir) / "notices.json.bak").is_file()  # the previous generation


def test_a_second_board_sees_a_change_once_its_cache_is_older_than_the_ttl(settings):
    clock = Clock(T0)
    here = board_over(JSONNoticeStore(settings.data_dir), clock)
    there = board_over(JSONNoticeStore(settings.data_dir), clock)
    assert here.current() is None  # cached: nothing
    there.publish(publish(hours=1))
    clock.advance(4.9)
    assert here.current() is None
    clock.advance(0.1)
    assert here.current() is not None
    there.clear()
    assert there.current() is None  # the writer's own cache is dropped at once
    clock.advance(5)
    assert here.current() is None


def test_an_unreadable_store_is_tried_again_after_the_ttl_not_on_every_opening(settings):
    clock = Clock(T0)
    path = Path(settings.data_dir) / "notices.json"
    path.parent.mkdir(parents=True)
    path.write_text("{ torn", encoding="utf-8")
    board = board_over(JSONNoticeStore(settings.data_dir), clock)
    with pytest.raises(StorageUnavailable, match="notices.json is corrupt"):
        board.current()
    JSONNoticeStore(settings.data_dir.parent / "elsewhere").add(publish(hours=1))
    os.replace(settings.data_dir.parent / "elsewhere" / "notices.json", path)
    clock.advance(4)
    assert board.current() is None  # not read again yet: the failure is remembered for ttl
    clock.advance(1)
    assert board.current() is not None


# --- the command line -------------------------------------------------------------------------


def test_cli_publishes_lists_and_clears(settings):
    made = invoke(settings, "notice", "set", "We know checkout is failing; we're on it",
                  "--article", "billing/refunds", "--until", LATER,
                  "--text", "de=Wir wissen, dass der Checkout ausfällt", "--text", "fr=Nous savons")
    assert made.exit_code == 0, made.output
    notice_id = re.search(r"published notice (n[0-9a-f]{7})", made.output)
    assert notice_id is not None
    listed = invoke(settings, "notice", "list", "--format", "json")
    assert listed.exit_code == 0
    [shown] = json.loads(listed.stdout)
    assert shown["texts"] == {"de": "Wir wissen, dass der Checkout ausfällt", "fr": "Nous savons"}
    assert (shown["article"], shown["status"], shown["until"]) == (
        "billing/refunds", "showing", "2099-01-01T18:00:00+00:00")

    unknown = invoke(settings, "notice", "clear", "n0000000")
    assert unknown.exit_code == 1 and "no notice 'n0000000'" in unknown.output
    cleared = invoke(settings, "notice", "clear", notice_id[1])
    assert cleared.exit_code == 0 and "cleared 1 notice(s)" in cleared.output
    assert invoke(settings, "notice", "list").stdout == ""
    everything = invoke(settings, "notice", "list", "--all").stdout
    assert notice_id[1] in everything and "cleared" in everything
    again = invoke(settings, "notice", "clear")
    assert again.exit_code == 0 and "no notice was showing" in again.output


@pytest.mark.parametrize(("args", "words"), [
    (["", "--until", LATER], "TEXT: the text is empty"),
    (["x" * 300, "--until", LATER], "TEXT: the text is 300 characters long"),
    (["a\x1b[31mred", "--until", LATER], "TEXT: the text contains a control character (U+001B)"),
    (["ok", "--until", LATER, "--text", "klingon=Qapla'"], "--text: unknown locale 'klingon'"),
    (["ok", "--until", LATER, "--text", "de"], "--text: 'de' is not LOCALE=TEXT"),
    (["ok", "--until", LATER, "--text", "de=a", "--text", "de=b"], "--text: de is given twice"),
    (["ok", "--until", "2020-01-01T00:00"], "--until: 2020-01-01T00:00:00+00:00 is in the past"),
    (["ok", "--until", "next friday"], "--until: 'next friday' is not a time"),
    (["ok", "--until", LATER, "--article", "billing/nothing"],
     "--article: no public article 'billing/nothing'"),
    (["ok", "--until", LATER, "--article", "billing/upcoming-plan"],  # a draft
     "--article: no public article 'billing/upcoming-plan'"),
])
def test_cli_refuses_bad_input_with_exit_code_2_and_publishes_nothing(settings, args, words):
    result = invoke(settings, "notice", "set", *args)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert "the notice was not published" in result.output
    assert not (Path(settings.data_dir) / "notices.json").exists()


def test_cli_needs_until_and_names_every_problem_at_once(settings):
    missing = invoke(settings, "notice", "set", "ok")
    assert missing.exit_code == 2 and "Missing option '--until'" in missing.output
    many = invoke(settings, "notice", "set", "", "--until", "soon", "--article", "x/y")
    assert many.exit_code == 2
    assert [line.split(":")[0].strip() for line in many.output.splitlines()[1:]] == [
        "TEXT", "--article", "--until"]


def test_cli_shows_hostile_text_escaped_on_the_terminal(settings):
    hostile = "\u202eevil\u202c <script>alert(1)</script>"
    made = invoke(settings, "notice", "set", hostile, "--until", LATER)
    assert made.exit_code == 0, made.output
    line = invoke(settings, "notice", "list").stdout
    assert "\u202e" not in line and "\\u202eevil" in line and "<script>alert(1)</script>" in line


# --- the panel's API --------------------------------------------------------------------------


def test_the_panel_gets_the_notice_with_its_suggestions_in_its_language(client):
    board: NoticeBoard = client.app.state.services.notices  # type: ignore[attr-defined]
    assert client.get("/api/v1/suggestions", params={"url": "/"}).json()["notice"] is None
    now = board.clock()
    notice = board.publish(new_notice(
        "Checkout is failing", until=now + timedelta(hours=1), now=now,
        texts={"de": "Der Checkout fällt aus"}, article="billing/refunds",
        find_article=lambda slug: slug))
    german = client.get("/api/v1/suggestions", params={"url": "/", "locale": "de"}).json()
    assert german["notice"] == {"id": notice.id, "text": "Der Checkout fällt aus",
                                "until": notice.as_dict()["until"],
                                "article": {"slug": "billing/refunds",
                                            "url": "/kb/billing/refunds"}}
    # The shape /openapi.json promises (the fuzz run there sees only "notice": null).
    assert set(german["notice"]) == set(NOTICE["properties"]) == set(NOTICE["required"])
    arabic = client.get("/api/v1/suggestions", params={"url": "/", "locale": "ar"}).json()
    assert arabic["notice"]["text"] == "Checkout is failing"
    board.clear(notice.id)
    assert client.get("/api/v1/suggestions", params={"url": "/"}).json()["notice"] is None


def test_hostile_notices_travel_as_inert_json_text(client):
    board: NoticeBoard = client.app.state.services.notices  # type: ignore[attr-defined]
    now = board.clock()
    for payload in PAYLOADS:
        if any(c in payload for c in "\t\n\r"):
            with pytest.raises(NoticeInvalid):
                new_notice(payload, until=now + timedelta(hours=1), now=now)
            continue
        board.publish(new_notice(payload, until=now + timedelta(hours=1), now=now))
        response = client.get("/api/v1/suggestions", params={"url": "/"})
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.json()["notice"]["text"] == payload  # data, never markup


def test_a_notice_store_that_fails_does_not_break_the_panel(client, settings):
    (Path(settings.data_dir) / "notices.json").write_text("{ torn", encoding="utf-8")
    client.app.state.services.notices.forget()  # type: ignore[attr-defined]
    response = client.get("/api/v1/suggestions", params={"url": "/checkout"})
    assert response.status_code == 200
    assert response.json()["notice"] is None and response.json()["results"]
    result = invoke(settings, "notice", "list")
    assert result.exit_code == 1 and "notices.json is corrupt" in result.output


# --- the admin: publish from a spike, clear ---------------------------------------------------

SPIKE_DAY = datetime(2026, 3, 29, 12, tzinfo=UTC)


@pytest.fixture
def spiking(make_settings, kb_dir) -> Iterator[TestClient]:
    """An admin over a month of seeded activity whose last two days spike (billing)."""
    settings = make_settings(admin_password=PASSWORD, events_retention_days=3650)
    insights_seed.seed(settings.data_dir, SPIKE_DAY, days=35, per_day=8)
    reindex(kb_dir, settings.index_dir)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


RANGE = "since=2026-03-01&until=2026-03-29&tz=UTC"


def _spike_form(page: str) -> dict[str, str]:
    form = re.search(r'<form method="post" action="/admin/insights/notice\?([^"]*)"'
                     r'.*?</form>', page, re.S)
    assert form is not None, "no 'Publish a notice' form next to the spike"
    fields = {}
    for tag in re.findall(r"<input [^>]*>", form.group(0)):
        name, value = re.search(r'name="(\w+)"', tag), re.search(r'value="([^"]*)"', tag)
        assert name is not None
        fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
    return {"query": form.group(1).replace("&amp;", "&"), **fields}


def test_admin_publishes_a_notice_from_a_spike_row_with_its_csrf_token(spiking):
    csrf = log_in(spiking)
    page = spiking.get(f"/admin/insights?{RANGE}")
    assert page.status_code == 200 and "Spikes" in page.text
    form = _spike_form(page.text)
    assert form["query"] == RANGE
    assert form["text"].startswith("We know about a problem with ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00", form["until"])
    body = {"text": form["text"], "until": LATER, "article": "billing/refunds",
            "text_de": "Wir kümmern uns darum"}

    refused = spiking.post(f"/admin/insights/notice?{RANGE}", data=body)
    assert refused.status_code == 403
    forged = spiking.post(f"/admin/insights/notice?{RANGE}", data={**body, "csrf": "forged"})
    assert forged.status_code == 403
    assert spiking.get("/api/v1/suggestions?url=/").json()["notice"] is None

    done = spiking.post(f"/admin/insights/notice?{RANGE}", data={**body, "csrf": csrf})
    assert done.status_code == 303 and done.headers["location"] == f"/admin/insights?{RANGE}"
    shown = spiking.get("/api/v1/suggestions?url=/&locale=de").json()["notice"]
    assert shown["text"] == "Wir kümmern uns darum"
    assert shown["article"]["slug"] == "billing/refunds"

    listed = spiking.get(f"/admin/insights?{RANGE}").text
    assert "Showing in the help panel" in listed and "Wir kümmern uns darum" in listed
    notice_id = shown["id"]
    assert spiking.post(f"/admin/insights/notice/clear?{RANGE}",
                        data={"id": notice_id}).status_code == 403
    cleared = spiking.post(f"/admin/insights/notice/clear?{RANGE}",
                           data={"id": notice_id, "csrf": csrf})
    assert cleared.status_code == 303
    assert spiking.get("/api/v1/suggestions?url=/").json()["notice"] is None
    assert "Showing in the help panel" not in spiking.get(f"/admin/insights?{RANGE}").text


def test_admin_gets_each_problem_named_and_nothing_published(spiking):
    csrf = log_in(spiking)
    bad = spiking.post(f"/admin/insights/notice?{RANGE}", data={
        "csrf": csrf, "text": "", "until": "2020-01-01T00:00",
        "article": "billing/upcoming-plan", "text_xx": "ignored: not a UI language"})
    assert bad.status_code == 422
    assert "text: the text is empty" in bad.text
    assert "article: no public article &#39;billing/upcoming-plan&#39;" in bad.text
    assert "until: 2020-01-01T00:00:00+00:00 is in the past" in bad.text
    assert spiking.get("/api/v1/suggestions?url=/").json()["notice"] is None
    unknown = spiking.post(f"/admin/insights/notice/clear?{RANGE}",
                           data={"csrf": csrf, "id": "n0000000"})
    assert unknown.status_code == 404


def test_hostile_notice_text_is_escaped_on_the_admin_page(spiking):
    csrf = log_in(spiking)
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    done = spiking.post(f"/admin/insights/notice?{RANGE}", data={
        "csrf": csrf, "text": hostile, "until": LATER, "text_ar": "<svg/onload=alert(3)>"})
    assert done.status_code == 303
    html = spiking.get(f"/admin/insights?{RANGE}").text
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "<svg/onload" not in html
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;svg/onload=alert(3)&gt;" in html


def test_the_insights_page_still_opens_when_the_notice_file_is_damaged(make_settings):
    settings = make_settings(admin_password=PASSWORD)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        log_in(client)
        (Path(settings.data_dir) / "notices.json").write_text("{ torn", encoding="utf-8")
        page = client.get("/admin/insights")
        assert page.status_code == 200 and "Showing in the help panel" not in page.text


# --- PostgreSQL: one notice for every node ----------------------------------------------------


def test_two_app_instances_over_postgresql_share_one_notice(make_settings, kb_dir, postgres_url):
    with pg_schema.connect(postgres_url) as conn:
        applied = pg_schema.upgrade(conn)
        assert "0004_notices" in [m.label for m in applied]
    settings = [make_settings(ticket_store=postgres_url, data_dir=str(kb_dir.parent / name))
                for name in ("node-a", "node-b")]
    reindex(kb_dir, settings[0].index_dir)
    reindex(kb_dir, settings[1].index_dir)
    with TestClient(create_app(settings[0])) as a, TestClient(create_app(settings[1])) as b:
        board_a: NoticeBoard = a.app.state.services.notices  # type: ignore[attr-defined]
        board_b: NoticeBoard = b.app.state.services.notices  # type: ignore[attr-defined]
        mono = [0.0]
        board_a.monotonic = board_b.monotonic = lambda: mono[0]
        assert b.get("/api/v1/suggestions?url=/").json()["notice"] is None

        now = board_a.clock()
        made = board_a.publish(new_notice("Checkout is failing", until=now + timedelta(hours=1),
                                          now=now, texts={"fr": "Le paiement échoue"}))
        mono[0] += 5  # node b's cache is now old enough to read the table again
        shown = b.get("/api/v1/suggestions?url=/&locale=fr").json()["notice"]
        assert (shown["id"], shown["text"]) == (made.id, "Le paiement échoue")

        assert [n.id for n in board_b.clear()] == [made.id]
        mono[0] += 5
        assert a.get("/api/v1/suggestions?url=/").json()["notice"] is None
        [stored] = board_a.all()
        assert stored.cleared_at is not None and stored.texts == {"fr": "Le paiement échoue"}


def test_cli_over_postgresql_and_a_schema_behind_says_what_to_run(settings, postgres_url):
    env = {"DESKBELL_TICKET_STORE": postgres_url}
    behind = invoke(settings, "notice", "list", env=env)
    assert behind.exit_code == 1 and "run deskbell db upgrade" in behind.output
    with pg_schema.connect(postgres_url) as conn:
        pg_schema.upgrade(conn)
    made = invoke(settings, "notice", "set", "Logins are slow", "--until", LATER, env=env)
    assert made.exit_code == 0, made.output
    exported = invoke(settings, "export", "notices", "--format", "json", env=env)
    assert [n["text"] for n in json.loads(exported.stdout)] == ["Logins are slow"]
    assert not (Path(settings.data_dir) / "notices.json").exists()


# --- export -----------------------------------------------------------------------------------


def test_export_notices_as_csv_and_json_with_their_status(settings):
    store = JSONNoticeStore(settings.data_dir)
    now = datetime.now(UTC)
    old = new_notice("Old outage", until=now - timedelta(days=1) + timedelta(hours=1),
                     now=now - timedelta(days=1))
    formula = new_notice('=HYPERLINK("http://evil.example","x")', until=now + timedelta(hours=1),
                         now=now, texts={"de": "+cmd|' /C calc'!A0"})
    cleared = new_notice("Fixed early", until=now + timedelta(hours=1), now=now)
    for notice in (old, formula, cleared):
        store.add(notice)
    store.clear(cleared.id, now)

    as_csv = invoke(settings, "export", "notices")
    assert as_csv.exit_code == 0 and "exported 3 notices" in as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["id"], r["status"]) for r in rows] == [
        (old.id, "expired"), (formula.id, "showing"), (cleared.id, "cleared")]
    assert rows[1]["text"] == "'" + formula.text  # a spreadsheet shows it, never runs it
    assert json.loads(rows[1]["texts"]) == {"de": "+cmd|' /C calc'!A0"}
    assert rows[2]["cleared_at"] and rows[0]["cleared_at"] == ""

    as_json = json.loads(invoke(settings, "export", "notices", "--format", "json").stdout)
    assert [n["status"] for n in as_json] == ["expired", "showing", "cleared"]
    assert as_json[1]["text"] == formula.text and as_json[1]["texts"] == {"de": formula.texts["de"]}
    lines = invoke(settings, "export", "notices", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [old.id, formula.id, cleared.id]
