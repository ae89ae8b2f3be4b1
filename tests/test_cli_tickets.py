"""`deskbell tickets`, `export tickets` and `erase`, alone and while a real server writes."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from benchmarks.common import Server, live_server
from cli.main import main
from widget_server.schemas import NEW_TICKET
from widget_server.tickets import JSONTicketStore, new_ticket

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_SUBJECT = '=HYPERLINK("http://evil.example","x")'


def add(data_dir: Path, **changes: Any) -> str:
    body = {"name": "Ana", "email": "ana@example.com", "subject": "Printer",
            "message": "It jams.", **changes}
    ticket, _ = new_ticket(NEW_TICKET.validate(body))
    return JSONTicketStore(data_dir).add(ticket)["reference"]


def run(data_dir: Path, *args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, [*args, "--data-dir", str(data_dir)],
                              input=input, catch_exceptions=False)


def test_list_show_reply_and_status(tmp_path: Path) -> None:
    ref = add(tmp_path, subject="Printer \u202eevil")
    listed = run(tmp_path, "tickets", "list")
    assert listed.exit_code == 0 and ref in listed.output
    assert "\u202e" not in listed.output and "\\u202e" in listed.output
    as_json = json.loads(run(tmp_path, "tickets", "list", "--format", "json").output)
    assert as_json[0]["reference"] == ref and "token_hash" not in as_json[0]
    replied = run(tmp_path, "tickets", "reply", ref, "-", input="Clean the roller.\n")
    assert replied.exit_code == 0 and "status pending" in replied.output
    ticket = JSONTicketStore(tmp_path).get(ref)
    assert ticket["first_reply_at"] and ticket["thread"][-1]["body"] == "Clean the roller."
    assert run(tmp_path, "tickets", "status", ref, "solved").exit_code == 0
    assert JSONTicketStore(tmp_path).get(ref)["status"] == "solved"
    shown = run(tmp_path, "tickets", "show", ref)
    assert "Clean the roller." in shown.output and "[solved]" in shown.output
    assert run(tmp_path, "tickets", "list", "--status", "new").stdout.strip() == ""


def test_failures_are_one_clear_line(tmp_path: Path) -> None:
    missing = run(tmp_path, "tickets", "reply", "DB-0000-0000-0000", "hello")
    assert missing.exit_code == 1 and missing.output.strip() == "Error: no such ticket"
    add(tmp_path)
    for damaged in (tmp_path / "tickets").rglob("*.json"):
        damaged.write_text("{")
    corrupt = run(tmp_path, "tickets", "list")
    assert corrupt.exit_code == 1 and ".json.bak" in corrupt.output
    assert len(corrupt.output.strip().splitlines()) == 1
    bad = run(tmp_path, "tickets", "status", "DB-0000-0000-0000", "done")
    assert bad.exit_code == 2


def test_csv_export_is_rfc4180_and_formula_safe(tmp_path: Path) -> None:
    add(tmp_path, subject=HOSTILE_SUBJECT, name="@SUM(A1)", message="-2+3\r\nline \"two\"")
    add(tmp_path, subject="Plain, with comma")
    out = tmp_path / "t.csv"
    result = run(tmp_path, "export", "tickets", "--format", "csv", "-o", str(out))
    assert result.exit_code == 0 and "exported 2 tickets" in result.output
    raw = out.read_bytes()
    assert raw.endswith(b"\r\n") and raw.count(b"\r\n") == 4  # header, 2 rows, 1 in a cell
    assert raw.split(b"\r\n")[0].startswith(b"reference,status,created_at")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert rows[0]["subject"] == "'" + HOSTILE_SUBJECT
    assert rows[0]["name"] == "'@SUM(A1)" and rows[0]["message"] == "'-2+3\r\nline \"two\""
    assert rows[1]["subject"] == "Plain, with comma"
    assert not [v for row in rows for v in row.values() if v and v[0] in "=+-@\t\r"]


def test_json_exports_round_trip(tmp_path: Path) -> None:
    ref = add(tmp_path, subject=HOSTILE_SUBJECT, message="</script>\u202e")
    stored = JSONTicketStore(tmp_path).get(ref)
    del stored["token_hash"]
    as_json = run(tmp_path, "export", "tickets", "--format", "json").stdout
    assert json.loads(as_json) == [stored]
    lines = run(tmp_path, "export", "tickets", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == [stored]


def test_export_filters_by_status_and_day(tmp_path: Path) -> None:
    first = add(tmp_path)
    add(tmp_path)
    assert run(tmp_path, "tickets", "status", first, "solved").exit_code == 0
    solved = run(tmp_path, "export", "tickets", "--format", "jsonl", "--status", "solved").stdout
    assert [json.loads(x)["reference"] for x in solved.splitlines()] == [first]
    future = run(tmp_path, "export", "tickets", "--format", "jsonl", "--since", "2999-01-01")
    assert future.stdout == "" and "exported 0 tickets" in future.output


def test_erase_removes_one_persons_tickets(tmp_path: Path) -> None:
    add(tmp_path, email="gone@example.com")
    add(tmp_path, email="gone@example.com")
    keep = add(tmp_path, email="stay@example.com")
    refused = run(tmp_path, "erase", "--email", "gone@example.com", input="n\n")
    assert refused.exit_code == 1 and JSONTicketStore(tmp_path).count() == 3
    done = run(tmp_path, "erase", "--email", "GONE@example.com", "--yes")
    assert done.exit_code == 0 and "erased 2 ticket(s)" in done.output
    assert [t["reference"] for t in JSONTicketStore(tmp_path).iter_tickets()] == [keep]


# ---------------------------------------------------------------- a real server


def serving(data_dir: Path, workers: int = 1) -> ContextManager[Server]:
    """`deskbell serve` as a real subprocess on loopback, configured through the environment;
    words-only search, so four workers start without loading the model four times."""
    settings = {"data_dir": data_dir, "kb_dir": ROOT / "tests" / "data" / "kb",
                "ticket_rate_limit": "100000/minute", "semantic": "false"}
    return live_server(settings, workers=workers, cwd=data_dir.parent, timeout=60)


def post_ticket(http: httpx.Client, base: str, subject: str) -> str | None:
    body = {"name": "Load", "email": "load@example.com", "subject": subject,
            "message": "x" * 500, "elapsed_ms": 4000}
    try:
        response = http.post(f"{base}/api/v1/tickets", json=body, timeout=20)
    except httpx.TransportError:
        return None
    assert response.status_code == 201, response.text
    return str(response.json()["reference"])


def test_four_workers_and_the_cli_write_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    target = add(data)
    subjects = [f"load-{i}" for i in range(80)]
    with serving(data, workers=4) as server, httpx.Client() as http:
        base = server.url
        replies = [subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "deskbell"), "tickets", "reply", target,
             f"reply {i}", "--data-dir", str(data)], cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True) for i in range(3)]
        with ThreadPoolExecutor(8) as pool:
            references = list(pool.map(lambda s: post_ticket(http, base, s), subjects))
        outcomes = [r.communicate(timeout=60) for r in replies]
    assert all(r.returncode == 0 for r in replies), outcomes
    store = JSONTicketStore(data)
    tickets = {t["reference"]: t for t in store.iter_tickets()}
    assert len(tickets) == 81 and set(references) | {target} == set(tickets)
    assert sorted(t["subject"] for t in tickets.values() if t["subject"] != "Printer") == sorted(
        subjects)
    assert sorted(e["body"] for e in tickets[target]["thread"][1:]) == [
        f"reply {i}" for i in range(3)]


@pytest.mark.parametrize("round_", range(3))
def test_kill_9_of_the_server_keeps_every_acknowledged_ticket(tmp_path: Path,
                                                              round_: int) -> None:
    data = tmp_path / "data"
    acknowledged: list[str] = []
    with serving(data) as server, httpx.Client() as http:
        proc = server.process
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(post_ticket, http, server.url, f"k{round_}-{i}")
                       for i in range(200)]
            while sum(f.done() for f in futures) < 10 + 10 * round_:
                time.sleep(0.005)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            acknowledged = [r for f in futures if (r := f.result()) is not None]
    assert len(acknowledged) >= 10 + 10 * round_
    store = JSONTicketStore(data)
    assert all(store.get(ref) is not None for ref in acknowledged)
    assert len({t["reference"] for t in store.iter_tickets()}) == store.count()
