"""The PostgreSQL ticket store on a real PostgreSQL (a fresh schema per test, see conftest):
its migrations, its inbox queries against summarize(), concurrent writers, hostile text,
outages, and the `deskbell db` commands. The protocol's own suite runs in test_ticket_store."""

from __future__ import annotations

import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from cli.main import main
from widget_server.app import create_app
from widget_server.errors import DeskbellError, NotFound, StorageUnavailable, ValidationFailed
from widget_server.pg import ConnectionLost
from widget_server.settings import SettingsError, load_settings
from widget_server.tickets import (
    STATUSES,
    MemoryTicketStore,
    SummaryQuery,
    Ticket,
    clean_text,
    new_ticket,
    open_ticket_store,
    pg_schema,
)
from widget_server.tickets.postgres import PostgresTicketStore

from .conftest import REPO, free_port

LATEST = pg_schema.latest_version()
OUTDATED = (f"setting ticket_store: the PostgreSQL schema is at version {LATEST - 1}, "
            f"this Deskbell needs {LATEST}: run deskbell db upgrade")
HOSTILE = [
    "'; DROP TABLE tickets; --",
    "Robert'); DELETE FROM tickets WHERE ('1'='1",
    'say "hi" \'there\'',
    "back\\slash \\' \\\\ \\x00 \\n",
    "%", "_", "100%_off", "a%b_c\\%",
    "$1 $$ $tag$ %s %(text)s {}",
    "🎫 émoji ÀÉ \u202eevil",
    "tab\tnew\nline\r",
]


# -- helpers


def fields(**changes: Any) -> dict[str, Any]:
    """What validation hands new_ticket, built directly: the store must not rely on it."""
    return {"name": "Ana", "email": "ana@example.com", "subject": "Printer",
            "message": "It jams.", "page_url": "", "locale": "en", "trail": {}, **changes}


def ticket(**changes: Any) -> Ticket:
    category = changes.pop("category", "")
    return new_ticket(fields(**changes), category)[0]


def upgrade(url: str) -> tuple[pg_schema.Migration, ...]:
    with pg_schema.connect(url) as conn:
        return pg_schema.upgrade(conn)


def settings_for(url: str, tmp_path: Path) -> Any:
    return load_settings(overrides={"ticket_store": url, "data_dir": str(tmp_path / "data")},
                         config_file=None, environ={})


def via_port(url: str, port: int) -> str:
    """`url` pointed at 127.0.0.1:`port`, user, database and options kept."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}" if user
                                     else f"127.0.0.1:{port}"))


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresTicketStore]:
    upgrade(postgres_url)
    opened = PostgresTicketStore(postgres_url)
    yield opened
    opened.close()


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no deskbell.toml of the checkout's is read
    return CliRunner()


def deskbell(runner: CliRunner, url: str, *args: str) -> Any:
    return runner.invoke(main, [*args], env={"DESKBELL_TICKET_STORE": url})


# -- migrations


def test_a_fresh_database_refuses_to_open_until_upgraded(postgres_url: str,
                                                         tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        open_ticket_store(settings_for(postgres_url, tmp_path))
    assert str(refused.value) == (f"setting ticket_store: the PostgreSQL schema is at version "
                                  f"0, this Deskbell needs {LATEST}: run deskbell db upgrade")
    with pg_schema.connect(postgres_url) as conn:
        before = pg_schema.status(conn)
        assert (before.version, before.latest, before.applied) == (0, LATEST, ())
        assert [m.version for m in before.pending] == list(range(1, LATEST + 1))
        applied = pg_schema.upgrade(conn)
        after = pg_schema.status(conn)
    assert [m.label for m in applied] == [m.label for m in pg_schema.migrations()]
    assert applied[0].label == "0001_tickets"
    assert after.current and after.pending == () and after.schema.startswith("deskbell_test_")
    assert [a.version for a in after.applied] == list(range(1, LATEST + 1))
    opened = open_ticket_store(settings_for(postgres_url, tmp_path))
    assert opened.count() == 0
    opened.close()  # type: ignore[attr-defined]


def test_an_older_schema_stops_the_store_the_cli_and_the_server_with_one_line(
        postgres_url: str, tmp_path: Path, runner: CliRunner) -> None:
    upgrade(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DELETE FROM deskbell_schema WHERE version = %s", (LATEST,))
    settings = settings_for(postgres_url, tmp_path)
    with pytest.raises(SettingsError) as refused:
        open_ticket_store(settings)
    assert str(refused.value) == OUTDATED
    with pytest.raises(SettingsError, match=f"^{re.escape(OUTDATED)}$"):
        create_app(settings)  # `deskbell serve` prints this one line (cli/serve.py)
    listed = deskbell(runner, postgres_url, "tickets", "list")
    assert listed.exit_code == 1 and listed.output == f"Error: {OUTDATED}\n"


def test_a_schema_newer_than_the_code_is_refused_too(postgres_url: str,
                                                     tmp_path: Path) -> None:
    upgrade(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO deskbell_schema (version, name) VALUES (%s, 'future')",
                     (LATEST + 1,))
        with pytest.raises(StorageUnavailable, match="newer than this Deskbell"):
            pg_schema.upgrade(conn)  # never steps a newer schema back
    with pytest.raises(SettingsError, match=f"version {LATEST + 1}, newer than this Deskbell "
                                            f"knows \\({LATEST}\\): upgrade Deskbell"):
        open_ticket_store(settings_for(postgres_url, tmp_path))


def test_upgrade_is_idempotent_and_keeps_the_tickets(store: PostgresTicketStore,
                                                     postgres_url: str) -> None:
    kept = store.add(ticket(subject="Kept"))
    assert upgrade(postgres_url) == () and upgrade(postgres_url) == ()
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT version FROM deskbell_schema ORDER BY version").fetchall()
    assert [r[0] for r in rows] == list(range(1, LATEST + 1))
    assert store.get(kept["reference"]) == kept and store.count() == 1


def test_concurrent_upgrades_apply_each_migration_once(postgres_url: str) -> None:
    start = threading.Barrier(6)
    applied: list[int] = []
    errors: list[BaseException] = []

    def race() -> None:
        try:
            with pg_schema.connect(postgres_url) as conn:
                start.wait()
                applied.extend(m.version for m in pg_schema.upgrade(conn))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and sorted(applied) == list(range(1, LATEST + 1))
    with pg_schema.connect(postgres_url) as conn:
        assert pg_schema.status(conn).current


def test_a_failed_upgrade_changes_nothing(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tickets (something_else int)")
    with pytest.raises(StorageUnavailable) as refused:
        upgrade(postgres_url)
    assert refused.value.message == ('PostgreSQL refused the schema upgrade (relation "tickets" '
                                     'already exists); nothing was changed')
    with pg_schema.connect(postgres_url) as conn:
        assert pg_schema.schema_version(conn) == 0
        assert conn.execute("SELECT to_regclass('deskbell_schema')").fetchone() == (None,)


def test_migrations_ship_as_package_data_numbered_without_gaps() -> None:
    shipped = pg_schema.migrations()
    assert [m.version for m in shipped] == list(range(1, len(shipped) + 1))
    assert all((REPO / "widget_server" / "migrations" / "postgresql" / f"{m.label}.sql").is_file()
               for m in shipped)
    assert "CREATE TABLE tickets" in shipped[0].sql


# -- the inbox: SQL that answers what summarize() answers


def _tickets_for_the_inbox(count: int) -> list[Ticket]:
    """Tickets whose text needs casefolding (ß, Σ/ς, İ, ǅ, ligatures), holds LIKE wildcards
    and quotes, and whose times tie often (the order of ties must be insertion order)."""
    rng = random.Random(20261130)
    words = ["Straße", "STRASSE", "İlker", "ǅemal", "Σίσυφος", "ﬁnal", "O'Brien", "50% off",
             "snake_case", "back\\slash", "Zoë", "printer", "Refund", "a_b", "'; DROP TABLE x; --",
             'say "hi"', "ΣΑΣ", "tab\there"]
    times = [f"2026-0{m}-1{d}T10:00:00{frac}+00:00" for m in range(1, 5) for d in range(5)
             for frac in ("", ".5")]
    made = []
    for i in range(count):
        made.append(ticket(
            name=f"{rng.choice(words)} {i}", subject=" ".join(rng.sample(words, 2)),
            message=rng.choice(words) + " message", category=rng.choice(["", "Billing", "Straße"]),
            email=f"{rng.choice(['ana', 'BO', 'zoë'])}{i % 7}@Example.com"))
        made[-1]["status"] = rng.choice([*STATUSES, "archived"])  # one unknown status too
        made[-1]["created_at"] = rng.choice(times)
    return made


def test_summaries_equal_summarize_over_300_tickets(store: PostgresTicketStore) -> None:
    reference = MemoryTicketStore()  # filters with store.summarize(), the meaning of a query
    for made in _tickets_for_the_inbox(300):
        store.add(dict(made))
        reference.add(dict(made))
    texts = ["", "a", "A", "ss", "STRASSE", "straße", "σ", "ς", "ΣΊΣΥΦΟΣ", "i̇", "İ", "ǆ", "fi",
             "%", "_", "\\", "'", '"', "50%", "a_b", "db-", "@example", "ZOË", "\t",
             "'; drop table x; --", "no such words", "a\x00b", "\ud800"]
    checked = 0
    for status in ["", "new", "solved", "archived", "nope"]:
        for text in texts:
            for newest_first in (False, True):
                for limit in (0, 5, 200, -3):
                    query = SummaryQuery(status, text, newest_first, limit)
                    assert store.summaries(query) == reference.summaries(query), query
                    checked += 1
    assert checked == 1120
    assert store.summaries(SummaryQuery(text="STRASSE")).matched > 0  # ß folds to ss
    everything = store.summaries(SummaryQuery(limit=1000))
    assert everything.total == 300 and everything.counts["archived"] > 0


def test_a_summary_holds_exactly_the_summary_fields(store: PostgresTicketStore) -> None:
    store.add(ticket())
    item = store.summaries(SummaryQuery()).items[0]
    assert list(item) == ["reference", "status", "name", "email", "subject", "message",
                          "category", "created_at", "updated_at", "first_reply_at", "solved_at",
                          "assignee"]
    assert item["first_reply_at"] is None and item["status"] == "new"


# -- many writers


WORKER = """
import sys
from widget_server.pg import ConnectionLost
from widget_server.tickets.postgres import PostgresTicketStore
url, reference, name, times = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = PostgresTicketStore(url, max_size=2)
for i in range(times):
    store.update(reference, lambda t, i=i: t["thread"].append({"body": f"{name}-{i}"}))
store.close()
"""


def test_eight_processes_appending_to_one_ticket_lose_nothing(
        store: PostgresTicketStore, postgres_url: str) -> None:
    reference = store.add(ticket())["reference"]
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, postgres_url, reference,
                                 f"w{n}", "50"], cwd=REPO, stderr=subprocess.PIPE, text=True)
               for n in range(8)]
    for worker in workers:
        _, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err
    bodies = [entry["body"] for entry in store.get(reference)["thread"][1:]]  # type: ignore[index]
    assert sorted(bodies) == sorted(f"w{n}-{i}" for n in range(8) for i in range(50))


def test_two_stores_on_one_database_share_every_ticket(store: PostgresTicketStore,
                                                       postgres_url: str) -> None:
    other = PostgresTicketStore(postgres_url)  # another machine, as far as tickets go
    try:
        made = store.add(ticket())
        assert other.get(made["reference"]) == made
        other.update(made["reference"], lambda t: t.update(status="solved"))
        assert store.get(made["reference"])["status"] == "solved"  # type: ignore[index]
        twin = ticket()
        twin["reference"] = made["reference"]
        assert other.add(twin)["reference"] != made["reference"]
        assert store.count() == other.count() == 2
    finally:
        other.close()


def test_an_update_waits_for_the_one_holding_the_row(store: PostgresTicketStore) -> None:
    reference = store.add(ticket())["reference"]
    inside, release = threading.Event(), threading.Event()

    def slow(t: Ticket) -> None:
        inside.set()
        release.wait(10)
        t["thread"].append({"body": "first"})

    first = threading.Thread(target=store.update, args=(reference, slow))
    first.start()
    assert inside.wait(10)
    seen: list[int] = []
    second = threading.Thread(target=store.update, args=(
        reference, lambda t: (seen.append(len(t["thread"])), t["thread"].append({"body": "2"}))))
    second.start()
    time.sleep(0.3)
    assert seen == []  # still waiting on the row lock
    release.set()
    first.join(10)
    second.join(10)
    assert seen == [2]
    assert [e["body"] for e in store.get(reference)["thread"][1:]] == ["first", "2"]  # type: ignore[index]


# -- hostile text


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_stored_found_and_filtered_as_plain_text(
        store: PostgresTicketStore, text: str) -> None:
    store.add(ticket(subject="plain", email="plain@example.com"))
    made = ticket(name=text, subject=text, message=text, category=text, email=f"{text}@x.io",
                  page_url=text, locale=text, trail={"searches": [{"q": text, text: text}]})
    made["thread"].append({"body": text, text: text})
    store.add(made)
    assert store.get(made["reference"]) == made
    reference = MemoryTicketStore()
    for kept in store.iter_tickets():
        reference.add(kept)
    for query in (SummaryQuery(text=text), SummaryQuery(text=text.upper(), newest_first=True),
                  SummaryQuery(status=text), SummaryQuery(status=text, text=text)):
        assert store.summaries(query) == reference.summaries(query), query
    assert store.summaries(SummaryQuery(text=text)).matched >= 1
    assert store.get(text) is None
    with pytest.raises(NotFound):
        store.update(text, lambda t: None)
    assert store.erase_email(text) == 0 and store.count() == 2
    assert store.erase_email(f"{text}@X.IO") == 1 and store.count() == 1


@pytest.mark.parametrize("where", ["name", "subject", "message", "email", "category",
                                   "trail.searches[0].q", "key"])
def test_a_nul_character_is_refused_naming_the_field(store: PostgresTicketStore,
                                                     where: str) -> None:
    made = ticket(trail={"searches": [{"q": "fine"}]})
    if where == "trail.searches[0].q":
        made["trail"]["searches"][0]["q"] = "a\x00b"
    elif where == "key":
        made["extra\x00"] = "value"
    else:
        made[where] = "a\x00b"
    with pytest.raises(ValidationFailed, match="NUL") as refused:
        store.add(made)
    assert where.partition(".")[0] in refused.value.message or where == "key"
    assert store.count() == 0


def test_a_change_that_brings_a_nul_or_a_lone_surrogate_stores_nothing(
        store: PostgresTicketStore) -> None:
    reference = store.add(ticket())["reference"]
    for bad in ("a\x00b", "a\ud800b"):
        with pytest.raises(ValidationFailed, match="^message: "):
            store.update(reference, lambda t, bad=bad: t.update(message=bad))
    assert store.get(reference)["message"] == "It jams."  # type: ignore[index]


def test_visitor_input_never_carries_a_nul() -> None:
    with pytest.raises(ValidationFailed, match="control characters"):
        clean_text("a\x00b", "message", 1, 100, multiline=True)


def test_lookups_for_text_postgresql_cannot_hold_find_nothing(store: PostgresTicketStore) -> None:
    store.add(ticket(email="nul@example.com"))
    assert store.get("DB-\x00") is None and store.get("\ud800") is None
    with pytest.raises(NotFound):
        store.update("DB-\x00", lambda t: None)
    assert store.erase_email("nul@example.com\x00") == 0 and store.count() == 1
    assert store.summaries(SummaryQuery(status="new\x00")).matched == 0


# -- outages


def test_nothing_listening_is_storage_unavailable_naming_postgresql(
        postgres_url: str, tmp_path: Path, runner: CliRunner) -> None:
    nowhere = via_port(postgres_url, free_port())
    with pytest.raises(StorageUnavailable, match=r"^cannot connect to PostgreSQL \(.*refused"):
        PostgresTicketStore(nowhere)
    with pytest.raises(SettingsError) as refused:
        open_ticket_store(settings_for(nowhere, tmp_path))
    assert isinstance(refused.value, DeskbellError)  # every command prints it as one line
    assert str(refused.value).startswith("setting ticket_store: cannot connect to PostgreSQL (")
    assert "\n" not in str(refused.value)
    listed = deskbell(runner, nowhere, "tickets", "list")
    assert listed.exit_code == 1
    assert listed.output.startswith("Error: setting ticket_store: cannot connect to PostgreSQL")
    assert listed.output.count("\n") == 1


class Relay:
    """A TCP relay on a fixed loopback port to the test PostgreSQL, which a test can cut and
    restore: the store's connections really die while the shared server keeps running."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        for sock in self._sockets:
            _shut(sock)
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _shut(source)
        _shut(sink)


@pytest.fixture
def relay(postgres_url: str) -> Iterator[Relay]:
    info = psycopg.conninfo.conninfo_to_dict(postgres_url)
    opened = Relay((str(info.get("host", "127.0.0.1")), int(info.get("port", 5432))))
    opened.start()
    yield opened
    opened.stop()


def eventually(call: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except StorageUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_lost_server_is_503_and_the_pool_reconnects_when_it_returns(
        postgres_url: str, relay: Relay) -> None:
    upgrade(postgres_url)
    flaky = PostgresTicketStore(via_port(postgres_url, relay.port), timeout=1.0,
                                reconnect_timeout=2.0)
    try:
        made = flaky.add(ticket())
        relay.stop()
        for call in (flaky.count, lambda: flaky.get(made["reference"]),
                     lambda: flaky.add(ticket())):
            with pytest.raises(StorageUnavailable) as down:
                call()
            assert down.value.status == 503 and "PostgreSQL" in down.value.message
        time.sleep(3)  # longer than reconnect_timeout: the pool has stopped retrying
        relay.start()
        assert eventually(flaky.count) == 1  # no restart: the same store works again
        flaky.check()
    finally:
        flaky.close()


def test_the_api_answers_503_while_postgresql_is_away(
        postgres_url: str, relay: Relay, make_settings: Callable[..., Any]) -> None:
    upgrade(postgres_url)
    settings = make_settings(ticket_store=via_port(postgres_url, relay.port),
                             ticket_rate_limit="100/minute")
    body = {"name": "Ana", "email": "ana@example.com", "subject": "Help",
            "message": "It jams.", "elapsed_ms": 9000}
    with TestClient(create_app(settings)) as client:
        try:
            assert client.post("/api/v1/tickets", json=body).status_code == 201
            relay.stop()
            down = client.post("/api/v1/tickets", json=body)
            assert down.status_code == 503
            assert down.json()["error"]["code"] == "storage_unavailable"
            assert "PostgreSQL" in down.json()["error"]["message"]
            relay.start()
            deadline = time.monotonic() + 30
            while (answer := client.post("/api/v1/tickets", json=body)).status_code == 503:
                assert time.monotonic() < deadline, answer.json()
            assert answer.status_code == 201
        finally:
            client.app.state.services.tickets.close()  # type: ignore[attr-defined]


# -- the setting


@pytest.mark.parametrize(("url", "problem"), [
    ("postgresql://deskbell:s3cret@db.example.com", "names no database"),
    ("postgresql://deskbell:s3cret@db.example.com/", "names no database"),
    ("postgres://deskbell:s3cret@db.example.com/a/b", "has a path beyond the database name"),
    ("postgresql://deskbell:s3cret@db.example.com:54x2/deskbell", "has port '54x2'"),
    ("postgresql://deskbell:s3cret@db.example.com:70000/deskbell", "has port '70000'"),
    ("postgresql://deskbell:s3cret@db.example.com/desk bell", "contains blank space"),
    ("postgresql://deskbell:s3cret@db.example.com/deskbell#x", "has a #fragment"),
])
def test_a_malformed_postgresql_url_is_refused_precisely_without_echoing_it(
        url: str, problem: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(overrides={"ticket_store": url}, config_file=None, environ={})
    message = str(refused.value)
    assert message.startswith("setting ticket_store (--ticket-store): the PostgreSQL URL ")
    assert problem in message and "postgresql://user@host:5432/deskbell" in message
    assert "s3cret" not in message


@pytest.mark.parametrize("url", [
    "postgresql://deskbell@db.example.com/deskbell",
    "postgres://deskbell:pw@10.0.0.5:6432/deskbell?sslmode=require",
    "postgresql://db1:5432,db2:5433/deskbell?target_session_attrs=read-write",
    "postgresql://[::1]:5432/deskbell",
    "postgresql:///deskbell?host=/var/run/postgresql",
])
def test_a_postgresql_url_is_accepted_as_the_ticket_store(url: str) -> None:
    settings = load_settings(config_file=None, environ={"DESKBELL_TICKET_STORE": url})
    assert settings.ticket_store == url


def test_an_unknown_url_parameter_is_one_line_naming_the_setting(postgres_url: str,
                                                                 tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match='^setting ticket_store: not a valid PostgreSQL URL '
                                            r'\(invalid URI query parameter: "colour"\)$'):
        open_ticket_store(settings_for(f"{postgres_url}&colour=blue", tmp_path))


def test_the_default_install_never_imports_psycopg() -> None:
    # Neither the tickets nor the events of an embedded store touch PostgreSQL's driver.
    script = ("import sys, cli.main, widget_server.app\n"
              "from widget_server.settings import load_settings\n"
              "from widget_server.tickets.factory import open_event_store, open_ticket_store\n"
              "for kind in ('json', 'memory'):\n"
              "    s = load_settings(overrides={'ticket_store': kind, 'event_store': kind,"
              " 'data_dir': sys.argv[1]}, config_file=None, environ={})\n"
              "    open_ticket_store(s), open_event_store(s)\n"
              "print(sorted(m for m in sys.modules if m.startswith('psycopg')))\n")
    with tempfile.TemporaryDirectory() as data:
        ran = subprocess.run([sys.executable, "-c", script, data], cwd=REPO,
                             capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"


# -- deskbell db


def test_db_status_and_upgrade(runner: CliRunner, postgres_url: str) -> None:
    fresh = deskbell(runner, postgres_url, "db", "status")
    assert fresh.exit_code == 0, fresh.output
    assert f"version 0, this Deskbell needs {LATEST} (run deskbell db upgrade)" in fresh.output
    assert "0001_tickets" in fresh.output and "pending" in fresh.output
    done = deskbell(runner, postgres_url, "db", "upgrade")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[0] == "applied 0001_tickets"
    assert f"upgraded from version 0 to {LATEST}" in done.output
    again = deskbell(runner, postgres_url, "db", "upgrade")
    assert again.exit_code == 0 and f"is up to date (version {LATEST})" in again.output
    status = deskbell(runner, postgres_url, "db", "status")
    assert f"version {LATEST}, this Deskbell needs {LATEST} (up to date)" in status.output
    assert "0001_tickets" in status.output and "applied 20" in status.output
    assert "pending" not in status.output
    listed = deskbell(runner, postgres_url, "tickets", "list")
    assert listed.exit_code == 0 and "0 ticket(s)" in listed.output


@pytest.mark.parametrize("kind", ["json", "memory"])
def test_db_commands_have_nothing_to_migrate_for_other_stores(runner: CliRunner,
                                                              kind: str) -> None:
    for command in ("status", "upgrade"):
        result = deskbell(runner, kind, "db", command)
        assert result.exit_code == 0
        assert result.output == (f"ticket_store is {kind}: nothing to migrate "
                                 "(only a PostgreSQL ticket store has a schema)\n")


def test_db_upgrade_with_postgresql_away_is_one_line(runner: CliRunner,
                                                    postgres_url: str) -> None:
    result = deskbell(runner, via_port(postgres_url, free_port()), "db", "upgrade")
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot connect to PostgreSQL (")
    assert result.output.count("\n") == 1


def _answer_lost(store: PostgresTicketStore, *, after_commit: bool) -> None:
    """The next transaction's connection dies: after COMMIT reached the server (its answer
    lost on the way back), or before anything was sent."""
    real = store._transaction

    @contextmanager
    def dying() -> Iterator[Any]:
        store._transaction = real  # type: ignore[method-assign]
        if not after_commit:
            raise ConnectionLost("server closed the connection unexpectedly")
        with real() as conn:
            yield conn
        raise ConnectionLost("server closed the connection unexpectedly")

    store._transaction = dying  # type: ignore[method-assign]


def test_a_ticket_whose_commit_answer_was_lost_is_acknowledged_once(
        store: PostgresTicketStore) -> None:
    ticket = new_ticket(fields())[0]
    _answer_lost(store, after_commit=True)
    assert store.add(ticket) == ticket  # stored: the visitor must not be told otherwise
    assert store.get(ticket["reference"]) == ticket and store.count() == 1


def test_a_ticket_that_never_reached_the_server_is_refused(store: PostgresTicketStore) -> None:
    ticket = new_ticket(fields())[0]
    _answer_lost(store, after_commit=False)
    with pytest.raises(StorageUnavailable):
        store.add(ticket)
    assert store.count() == 0
