"""`deskbell migrate-store` on a real PostgreSQL (a fresh schema per test, see conftest): JSON →
PostgreSQL → JSON gives back every ticket, notice and event byte for byte in the exports; a
second run copies nothing; a run killed mid-way (a real subprocess, SIGKILL) and run again
ends with exactly the source's content; a ticket altered in the target fails verification by
name; the source is never changed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from cli.main import main
from widget_server.events import JSONEventStore, NewEvent
from widget_server.helpdesk import Helpdesk
from widget_server.notices import JSONNoticeStore, Notice
from widget_server.notices.postgres import PostgresNoticeStore
from widget_server.settings import load_settings
from widget_server.tickets import JSONTicketStore, pg_schema
from widget_server.tickets.postgres import PostgresTicketStore

from .conftest import DATA, REPO

S = ["s_" + c * 22 for c in "abcdefgh"]
DAY = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
HOSTILE = ["'; DROP TABLE events; --", 'say "hi" \'there\'', "back\\slash \\' \\\\ \\n",
           "🎫 émoji \u202eevil", "$1 %s %(text)s {}"]


# -- helpers


def upgrade(url: str) -> None:
    with pg_schema.connect(url) as conn:
        pg_schema.upgrade(conn)


def deskbell(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env or {})


def migrate(*args: str) -> Result:
    return deskbell("migrate-store", *args)


def exports(data_dir: Path) -> dict[str, str]:
    """What a person sees of a data folder: every JSON export, as text."""
    seen = {}
    for name, args in (("tickets.json", ["export", "tickets", "--format", "json"]),
                       ("tickets.jsonl", ["export", "tickets", "--format", "jsonl"]),
                       ("list.json", ["tickets", "list", "--format", "json"]),
                       ("events.json", ["export", "events", "--format", "json"]),
                       ("events.csv", ["export", "events", "--format", "csv"]),
                       ("notices.json", ["export", "notices", "--format", "json"]),
                       ("notices.csv", ["export", "notices", "--format", "csv"])):
        # Opening the event store applies retention: keep the 2019 event (migrate-store never
        # purges, see snapshot()).
        done = deskbell(*args, "--data-dir", str(data_dir),
                        env={"DESKBELL_EVENTS_RETENTION_DAYS": "3650"})
        assert done.exit_code == 0, done.output
        seen[name] = done.stdout
    return seen


def snapshot(data_dir: Path) -> dict[str, str]:
    """The sha256 of every ticket and event file of a data folder (what must never change)."""
    files = [*data_dir.glob("tickets/p*.json"), *data_dir.glob("tickets/index/*.json"),
             *data_dir.glob("events/*.jsonl"), *data_dir.glob("notices.json")]
    return {str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(files)}


def build_source(data_dir: Path, tickets: int = 12, event_days: int = 4) -> dict[str, int]:
    """A data folder as a running Deskbell leaves it: tickets opened by visitors through the
    helpdesk (trails, replies, notes, statuses, ratings), widget batches with equal events
    sharing one instant, votes, hostile text, a NUL, an event older than any retention, and
    notices showing, cleared early and expired (with translations and an article)."""
    settings = load_settings(overrides={"data_dir": str(data_dir)}, config_file=None,
                             environ={})
    events = JSONEventStore(data_dir, retention_days=None)
    helpdesk = Helpdesk(JSONTicketStore(data_dir), settings, events)
    for n in range(tickets):
        at = (DAY - timedelta(days=n % 3)).isoformat()
        trail = {"session": S[n % len(S)], "page_url": "https://shop.example/cart",
                 "searches": [{"q": HOSTILE[n % len(HOSTILE)], "results": n, "at": at}],
                 "articles": [{"slug": "billing/refunds", "title": "Refunds", "source": "search",
                               "at": at}],
                 "votes": [{"slug": "billing/refunds", "helpful": n % 2 == 0, "at": at}]}
        opened = helpdesk.open_ticket({
            "name": f"Zoë {n}", "email": f"v{n}@example.com",
            "subject": HOSTILE[n % len(HOSTILE)], "message": f"It jams.\nLine {n} ✓",
            "elapsed_ms": 9000, "page_url": "https://shop.example/", "locale": "pt-BR",
            "trail": trail if n % 4 else {}})
        if n % 2:
            helpdesk.agent_reply(opened.reference, "Try again.", "solved" if n % 3 else None)
        if n % 2 and n % 3 == 1:  # solved by the reply
            helpdesk.rate(opened.reference, {"csat": 4, "ces": 2, "nps": 9, "comment": "ok"})
        if n % 5 == 0:
            helpdesk.add_note(opened.reference, "internal 'note'")
            helpdesk.visitor_reply(opened.reference, "Still broken")
    for day in range(event_days):
        for k in range(5):
            at = DAY + timedelta(days=day, minutes=37 * k, microseconds=k)
            session = S[(day + k) % len(S)]
            events.append_many([
                NewEvent(session, "widget_open", {"page_url": "https://shop.example/"}, at),
                NewEvent(session, "search", {"query": HOSTILE[k], "results": k, "locale": "en"},
                         at),
                NewEvent(session, "contact_open", {}, at),
                NewEvent(session, "contact_open", {}, at),  # equal events are two events
                NewEvent(session, "article_view", {"slug": "a/b", "source": "link"}, at)])
        # written after the rest of its day with an earlier time, as a late writer does
        events.append(S[0], "vote", {"slug": "a/b", "helpful": False, "reason": "nul \x00 ✓"},
                      DAY + timedelta(days=day, minutes=-5))
    events.append(None, "ticket_created", {"reference": "DB-OLD", "category": ""},
                  datetime(2019, 5, 1, tzinfo=UTC))
    notices = JSONNoticeStore(data_dir)
    for notice in NOTICES:
        notices.add(notice)
    return {"tickets": tickets, "events": sum(1 for _ in events.iter_events()),
            "notices": len(NOTICES)}


NOW = datetime.now(UTC).replace(microsecond=0)
NOTICES = [  # oldest first, as published
    Notice(id="n0000001", text=HOSTILE[0], until=DAY + timedelta(hours=4),
           created_at=DAY - timedelta(hours=1)),  # expired
    Notice(id="n0000002", text="Checkout is failing", until=NOW + timedelta(days=3),
           created_at=NOW - timedelta(hours=2), texts={"fr": "Le paiement échoue", "ar": "🎫 ‮"},
           article="billing/refunds", cleared_at=NOW - timedelta(hours=1)),  # cleared early
    Notice(id="n0000003", text=HOSTILE[1], until=NOW + timedelta(days=2),
           created_at=NOW - timedelta(minutes=5), texts={"de": HOSTILE[4]}),  # showing
]


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    folder = tmp_path / "source"
    return folder, build_source(folder)


@pytest.fixture
def url(postgres_url: str) -> str:
    upgrade(postgres_url)
    return postgres_url


@pytest.fixture(autouse=True)
def _no_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no deskbell.toml of the checkout is read
    for name in [n for n in os.environ if n.startswith("DESKBELL_")]:
        monkeypatch.delenv(name)


def notice_ids(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM notices ORDER BY seq")]


def counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        tickets = conn.execute("SELECT count(*) FROM tickets").fetchone()
        events = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(tickets[0]) if tickets else 0, int(events[0]) if events else 0


# -- the round trip


def test_json_to_postgresql_to_json_gives_back_every_export_byte_for_byte(
        source: tuple[Path, dict[str, int]], url: str, tmp_path: Path) -> None:
    folder, made = source
    before, files = exports(folder), snapshot(folder)
    assert '"searches"' in before["tickets.json"] and "\\u0000" in before["events.json"]
    there = migrate("--from", f"json:{folder}", "--to", url, "--batch", "7")
    assert there.exit_code == 0, there.output
    assert (f"tickets: {made['tickets']} in json:{folder}; {made['tickets']} copied, 0 already "
            "in the target") in there.stdout
    assert f"events: {made['events']} in json:{folder}; {made['events']} copied" in there.stdout
    assert f"notices: 3 in json:{folder}; 3 copied, 0 already in the target" in there.stdout
    assert there.stdout.splitlines()[-1].startswith(
        f"verified: all {made['tickets']} tickets (sha256 of each), all 3 notices (sha256 of "
        f"each) and all {made['events']} events (per UTC day) of the source are in "
        "postgresql://")
    assert there.stdout.splitlines()[-1].endswith(
        f"which now holds {made['tickets']} tickets, 3 notices and {made['events']} events")
    assert counts(url) == (made["tickets"], made["events"])
    held = PostgresNoticeStore(url)
    assert [n.as_dict() for n in held.all()] == [n.as_dict() for n in NOTICES]
    held.close()

    back = tmp_path / "back"
    again = migrate("--from", url, "--to", f"json:{back}", "--batch", "3")
    assert again.exit_code == 0, again.output
    assert exports(back) == before  # byte for byte: tickets, the inbox listing, events
    assert snapshot(folder) == files  # the source was only read
    assert sorted(p.name for p in (back / "events").iterdir()) == \
        sorted(p.name for p in (folder / "events").iterdir())
    for name in ("2019-05-01.jsonl", "2026-11-03.jsonl"):  # the day files themselves, too
        assert (back / "events" / name).read_bytes() == (folder / "events" / name).read_bytes()


def test_legacy_tickets_round_trip_too(url: str, tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"
    (legacy / "tickets").mkdir(parents=True)
    for path in (DATA / "tickets-v1" / "tickets").rglob("*.json"):
        target = legacy / "tickets" / path.relative_to(DATA / "tickets-v1" / "tickets")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    listed = deskbell("export", "tickets", "--format", "json", "--data-dir", str(legacy)).stdout
    assert migrate("--from", f"json:{legacy}", "--to", url).exit_code == 0
    assert migrate("--from", url, "--to", f"json:{tmp_path / 'back'}").exit_code == 0
    assert deskbell("export", "tickets", "--format", "json", "--data-dir",
                    str(tmp_path / "back")).stdout == listed


def test_a_second_run_copies_nothing(source: tuple[Path, dict[str, int]], url: str,
                                     tmp_path: Path) -> None:
    folder, made = source
    assert migrate("--from", f"json:{folder}", "--to", url).exit_code == 0
    again = migrate("--from", f"json:{folder}", "--to", url, "--batch", "1")
    assert again.exit_code == 0, again.output
    assert (f"{made['tickets']} in json:{folder}; 0 copied, {made['tickets']} already in the "
            "target") in again.stdout
    assert f"0 copied, {made['events']} already in the target" in again.stdout
    assert f"notices: 3 in json:{folder}; 0 copied, 3 already in the target" in again.stdout
    assert notice_ids(url) == ["n0000001", "n0000002", "n0000003"]
    assert counts(url) == (made["tickets"], made["events"])
    back = tmp_path / "back"
    for _ in range(2):  # back to files, twice
        assert migrate("--from", url, "--to", f"json:{back}").exit_code == 0
    assert exports(back) == exports(folder)


def test_the_configured_stores_are_the_default_source(source: tuple[Path, dict[str, int]],
                                                      url: str) -> None:
    folder, made = source
    done = migrate("--to", url, "--data-dir", str(folder))
    assert done.exit_code == 0, done.output
    assert counts(url) == (made["tickets"], made["events"])
    same = migrate("--to", "json", "--data-dir", str(folder))
    assert same.exit_code == 1
    assert same.output.endswith(f"--from and --to are the same place (json:{folder}): "
                                "nothing to copy\n")
    half = deskbell("migrate-store", "--to", url, env={"DESKBELL_TICKET_STORE": url,
                                                      "DESKBELL_DATA_DIR": str(folder)})
    assert half.exit_code == 0, half.output  # tickets are there already, events too
    assert half.stdout.startswith("tickets: already kept in postgresql://")
    assert "0 copied" in half.stdout and counts(url) == (made["tickets"], made["events"])


# -- interrupted runs


RUN = "import sys; from cli.main import main; sys.exit(main())"


def start(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKBELL_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen([sys.executable, "-c", RUN, "migrate-store", *args], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_when(proc: subprocess.Popen[bytes], reached: Any, seconds: float = 120) -> None:
    """SIGKILL `proc` as soon as reached() is true (it must still be running then)."""
    deadline = time.monotonic() + seconds
    while not reached():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the copy never got going"
        time.sleep(0.005)
    proc.kill()
    proc.wait(30)
    assert proc.returncode == -9


def test_a_run_killed_mid_way_and_run_again_ends_with_exactly_the_source(
        url: str, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    made = build_source(folder, tickets=120, event_days=40)
    args = ("--from", f"json:{folder}", "--to", url, "--batch", "5")

    first = start(tmp_path, *args)  # killed while copying tickets
    kill_when(first, lambda: counts(url)[0] >= 3)
    tickets, events = counts(url)
    assert 0 < tickets < made["tickets"] and events == 0

    second = start(tmp_path, *args)  # killed while copying events
    kill_when(second, lambda: counts(url)[1] >= 5)
    tickets, events = counts(url)
    assert tickets == made["tickets"] and 0 < events < made["events"]

    last = migrate(*args)
    assert last.exit_code == 0, last.output
    assert "already in the target" in last.stdout and "verified: all" in last.stdout
    assert counts(url) == (made["tickets"], made["events"])  # nothing twice, nothing missing
    back = tmp_path / "back"
    assert migrate("--from", url, "--to", f"json:{back}").exit_code == 0
    assert exports(back) == exports(folder)


def test_a_run_into_files_killed_mid_way_resumes_too(url: str, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    build_source(folder, tickets=5, event_days=60)
    assert migrate("--from", f"json:{folder}", "--to", url).exit_code == 0
    back = tmp_path / "back"
    run = start(tmp_path, "--from", url, "--to", f"json:{back}", "--batch", "3")

    def some_events() -> bool:
        return len(list((back / "events").glob("*.jsonl"))) >= 3 if (back / "events").is_dir() \
            else False

    kill_when(run, some_events)
    assert migrate("--from", url, "--to", f"json:{back}").exit_code == 0
    assert exports(back) == exports(folder)


# -- verification and refusals


def test_a_ticket_altered_in_the_target_fails_verification_by_name(
        source: tuple[Path, dict[str, int]], url: str) -> None:
    folder, _ = source
    assert migrate("--from", f"json:{folder}", "--to", url).exit_code == 0
    reference = next(JSONTicketStore(folder).iter_tickets())["reference"]
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE tickets SET document = jsonb_set(document, '{subject}', "
                     "'\"changed\"') WHERE reference = %s", (reference,))
    again = migrate("--from", f"json:{folder}", "--to", url)
    assert again.exit_code == 1
    assert again.output.splitlines()[-1].startswith(
        f"Error: verification failed: ticket {reference} differs in the target (sha256 ")
    assert "in the source" in again.output and "in the target)" in again.output
    store = PostgresTicketStore(url)
    assert store.get(reference)["subject"] == "changed"  # type: ignore[index]
    store.close()


def test_an_event_the_vocabulary_refuses_is_reported_and_left_out(
        source: tuple[Path, dict[str, int]], url: str) -> None:
    folder, made = source
    with (folder / "events" / "2026-11-02.jsonl").open("ab") as day:  # an older Deskbell's
        day.write(b'{"at":"2026-11-02T23:00:00+00:00","session":"s_abcdefgh","type":"search",'
                  b'"data":{"query":"old","results":1}}\n')
    done = migrate("--from", f"json:{folder}", "--to", url)
    assert done.exit_code == 0, done.output
    assert ("warning: 1 event(s) not copied: the event vocabulary refuses them now (session "
            "must be s_ followed by 22 letters, digits, - or _)") in done.stdout
    assert f"{made['events'] + 1} in json:{folder}; {made['events']} copied" in done.stdout
    assert counts(url)[1] == made["events"]


@pytest.mark.parametrize(("args", "message"), [
    (["--to", "sqlite:///x"], "Invalid value for --to: expected postgresql://…, json (the "
                              "data_dir setting) or json:/path/to/data_dir"),
    (["--to", "json:"], "Invalid value for --to"),
    (["--from", "json:/no/such/folder", "--to", "json:/tmp/x"],
     "Error: --from json:/no/such/folder: no such data folder"),
])
def test_bad_places_are_one_line(args: list[str], message: str) -> None:
    done = migrate(*args)
    assert done.exit_code == 2 if "Invalid" in message else done.exit_code == 1
    assert message in done.output


def test_a_target_behind_the_code_says_what_to_run(source: tuple[Path, dict[str, int]],
                                                   postgres_url: str) -> None:
    folder, _ = source
    done = migrate("--from", f"json:{folder}", "--to", postgres_url)
    assert done.exit_code == 1
    latest = pg_schema.latest_version()
    assert f"the PostgreSQL schema is at version 0, this Deskbell needs {latest}: run " \
           "deskbell db upgrade" in done.output
    assert "DESKBELL_TICKET_STORE='<that URL>' deskbell db upgrade" in done.output
    assert done.output.count("\n") == 1


def test_memory_is_no_source(url: str) -> None:
    done = deskbell("migrate-store", "--to", url, env={"DESKBELL_EVENT_STORE": "memory"})
    assert done.exit_code == 1
    assert "event_store is memory, which keeps nothing to migrate" in done.output


def test_a_notice_published_in_the_target_meanwhile_is_kept_and_one_altered_is_named(
        source: tuple[Path, dict[str, int]], url: str) -> None:
    folder, _ = source
    own = PostgresNoticeStore(url)
    own.add(Notice(id="n00000ff", text="Only in the database", until=NOW + timedelta(hours=1),
                   created_at=NOW))
    own.close()
    done = migrate("--from", f"json:{folder}", "--to", url)
    assert done.exit_code == 0, done.output
    assert notice_ids(url) == ["n00000ff", "n0000001", "n0000002", "n0000003"]
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE notices SET cleared_at = NULL WHERE id = 'n0000002'")
    again = migrate("--from", f"json:{folder}", "--to", url)
    assert again.exit_code == 1
    assert again.output.splitlines()[-1].startswith(
        "Error: verification failed: notice n0000002 differs in the target (sha256 ")
    assert notice_ids(url) == ["n00000ff", "n0000001", "n0000002", "n0000003"]  # not overwritten
    assert JSONNoticeStore(folder).all() == NOTICES  # the source was only read
