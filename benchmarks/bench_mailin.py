"""Inbound email throughput: replies delivered over LMTP to `deskbell mail-in --listen`.

Run:  .venv/bin/python benchmarks/bench_mailin.py [--replies 500] [--repeat 3]

Each run opens `--replies` tickets in a fresh JSON ticket store, starts the real command
(`deskbell mail-in --listen 127.0.0.1:PORT`, its own process, over that data_dir) and
delivers one reply to each ticket, as a mail client writes it (the agent's notice quoted
under "On … wrote:", a signature), over one LMTP connection from this process: each reply
is parsed, checked (tag, loop headers), stripped of its quote and signature and stored
(locked, fsynced). The baseline, in the same run, adds the same replies' text to fresh
tickets through `Helpdesk.visitor_reply` directly (what the widget's reply costs the store).
Prints medians in messages/second and writes benchmarks/results/mailin.json.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, write_result  # noqa: E402
from widget_server import mail  # noqa: E402
from widget_server.helpdesk import Helpdesk  # noqa: E402
from widget_server.settings import Settings, load_settings  # noqa: E402
from widget_server.tickets import open_ticket_store  # noqa: E402

SUPPORT = "support@example.com"
TEXT = "Thanks, the new link worked and I could download the invoice."
TICKET = {"name": "Ada Lovelace", "email": "ada@example.com", "subject": "Invoice missing",
          "message": "I cannot find my invoice for March.", "elapsed_ms": 5000}


def _settings(data_dir: Path) -> Settings:
    return load_settings(overrides={"data_dir": str(data_dir), "mail_reply_to": SUPPORT},
                         config_file=None, environ={})


def _open_tickets(settings: Settings, count: int) -> tuple[Helpdesk, list[str]]:
    helpdesk = Helpdesk(open_ticket_store(settings), settings)
    return helpdesk, [helpdesk.open_ticket(dict(TICKET)).reference for _ in range(count)]


def _reply(settings: Settings, key: bytes, reference: str, i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ada Lovelace <ada@example.com>"
    msg["To"] = mail.reply_address(settings, key, reference)
    msg["Subject"] = f"Re: Your request {reference}"
    msg["Date"] = formatdate()
    msg["Message-ID"] = f"<bench.{i}@mail.example.net>"
    msg["In-Reply-To"] = f"<{reference}.000000000000@example.com>"
    msg.set_content(f"{TEXT}\n\n-- \nAda Lovelace\n\nOn Mon, 30 Nov 2026 at 10:00, Help Center "
                    f"<help@example.com> wrote:\n> Your invoice is under Account > Invoices.\n"
                    f"> Reply to this email to answer.\n")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lmtp_run(count: int) -> float:
    """Messages/second delivered over LMTP to the real command."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp) / "data")
        helpdesk, references = _open_tickets(settings, count)
        messages = [_reply(settings, helpdesk.reply_key, r, i) for i, r in enumerate(references)]
        helpdesk.store.close()
        port = _free_port()
        env = {**os.environ, "DESKBELL_MAIL_REPLY_TO": SUPPORT, "DESKBELL_DATA_DIR":
               str(settings.data_dir), "DESKBELL_CONFIG": str(Path(tmp) / "none.toml")}
        process = subprocess.Popen(
            [sys.executable, "-c", "from cli.main import main; main()", "mail-in",
             "--listen", f"127.0.0.1:{port}"], cwd=REPO, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    lmtp = smtplib.LMTP("127.0.0.1", port, timeout=30)
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("deskbell mail-in did not start") from None
                    time.sleep(0.05)
            start = time.perf_counter()
            for message, reference in zip(messages, references, strict=True):
                refused = lmtp.sendmail("ada@example.com", [str(
                    mail.reply_address(settings, helpdesk.reply_key, reference))], message)
                assert not refused, refused
            elapsed = time.perf_counter() - start
            lmtp.quit()
        finally:
            process.terminate()
            process.wait(timeout=10)
        check = open_ticket_store(settings)
        assert all(check.get(r)["thread"][-1]["body"] == TEXT for r in references[:5])
        check.close()
        return count / elapsed


def direct_run(count: int) -> float:
    """Messages/second through Helpdesk.visitor_reply in this process (the baseline)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp) / "data")
        helpdesk, references = _open_tickets(settings, count)
        start = time.perf_counter()
        for reference in references:
            helpdesk.visitor_reply(reference, TEXT)
        elapsed = time.perf_counter() - start
        helpdesk.store.close()
        return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lmtp, direct = [], []
    for _ in range(args.repeat):
        lmtp.append(lmtp_run(args.replies))
        direct.append(direct_run(args.replies))
    result = {"replies": args.replies, "repeat": args.repeat,
              "lmtp_per_second": {"median": statistics.median(lmtp), "min": min(lmtp),
                                  "max": max(lmtp)},
              "visitor_reply_per_second": {"median": statistics.median(direct),
                                           "min": min(direct), "max": max(direct)}}
    print(f"{args.replies} replies, median of {args.repeat}: "
          f"LMTP to deskbell mail-in {result['lmtp_per_second']['median']:.0f} msg/s "
          f"({min(lmtp):.0f}-{max(lmtp):.0f}); "
          f"Helpdesk.visitor_reply {result['visitor_reply_per_second']['median']:.0f} msg/s "
          f"({min(direct):.0f}-{max(direct):.0f})")
    write_result("mailin", result)


if __name__ == "__main__":
    main()
