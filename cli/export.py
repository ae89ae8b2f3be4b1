"""`deskbell export`: data out of Deskbell as CSV, JSON or JSON lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import click

from widget_server.events import EventStore
from widget_server.notices import Notice
from widget_server.settings import Settings

from .agents import record as audit
from .notice import open_store as open_notice_store
from .notice import store_errors as notice_errors
from .options import settings_options
from .tickets import csv_safe, export_tickets

DAY = click.DateTime(formats=["%Y-%m-%d"])
EVENT_COLUMNS = ["at", "session", "type", "data"]
NOTICE_COLUMNS = ["id", "status", "created_at", "until", "cleared_at", "article", "text",
                  "texts"]


@click.group()
def export() -> None:
    """Export tickets, events or notices.

    \b
    Example:
        deskbell export events --format csv > events.csv
    """


def _public(event: dict[str, Any]) -> dict[str, Any]:
    return {key: event[key] for key in EVENT_COLUMNS}


def write_events(events: Iterable[dict[str, Any]], fmt: str, out: IO[str]) -> int:
    """Write events in fmt to out, streaming (JSON is one array); returns how many."""
    count = 0
    writer = csv.writer(out) if fmt == "csv" else None
    if writer:
        writer.writerow(EVENT_COLUMNS)
    elif fmt == "json":
        out.write("[")
    for event in events:
        count += 1
        if writer:
            writer.writerow([event["at"], event["session"] or "", event["type"],
                             json.dumps(event["data"], ensure_ascii=False, sort_keys=True)])
        elif fmt == "jsonl":
            out.write(json.dumps(_public(event), ensure_ascii=False) + "\n")
        else:
            out.write(("," if count > 1 else "") + "\n  " +
                      json.dumps(_public(event), ensure_ascii=False))
    if fmt == "json":
        out.write("\n]\n" if count else "]\n")
    return count


def _bounds(since: datetime | None, until: datetime | None) -> Iterator[datetime | None]:
    yield since.replace(tzinfo=UTC) if since else None
    yield (until.replace(tzinfo=UTC) + timedelta(days=1)) if until else None


@export.command(name="events")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl"]), default="jsonl",
              show_default=True, help="Output format.")
@click.option("--since", type=DAY, default=None, help="First UTC day to include (YYYY-MM-DD).")
@click.option("--until", type=DAY, default=None, help="Last UTC day to include (YYYY-MM-DD).")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="File to write (default: standard output).")
@settings_options
def export_events(settings: Settings, fmt: str, since: datetime | None, until: datetime | None,
                  output: IO[str]) -> None:
    """Export self-service events (no personal data: sessions are random tab ids).

    CSV has the columns at, session, type, data (the event's fields as JSON).

    \b
    Example:
        deskbell export events --format csv --since 2026-03-01 -o events.csv
        deskbell export events --format jsonl | jq .type
    """
    first, last = _bounds(since, until)
    if first and last and first >= last:
        raise click.ClickException("--since is after --until")
    if settings.event_store == "json" and not (settings.data_dir / "events").is_dir():
        raise click.ClickException(f"no events in {settings.data_dir} (is --data-dir right?)")
    store = EventStore.from_settings(settings)
    count = write_events(store.iter_events(first, last), fmt, output)
    click.echo(f"exported {count} events", err=True)
    audit(settings, "export.events", format=fmt, count=count)


def notice_record(notice: Notice, now: datetime) -> dict[str, Any]:
    """A notice as exported: every stored field and its status at `now`."""
    return {**notice.as_dict(), "status": notice.status(now)}


def write_notices(notices: Iterable[Notice], fmt: str, out: IO[str], now: datetime) -> int:
    """Write notices in fmt to out (CSV with formula cells neutralised, the translations as
    one JSON cell); returns how many."""
    records = [notice_record(n, now) for n in notices]
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(NOTICE_COLUMNS)
        for r in records:
            r["texts"] = json.dumps(r["texts"], ensure_ascii=False, sort_keys=True)
            writer.writerow([csv_safe(r[column]) for column in NOTICE_COLUMNS])
    elif fmt == "jsonl":
        out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    else:
        out.write(json.dumps(records, ensure_ascii=False, indent=2) + "\n")
    return len(records)


@export.command(name="notices")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl"]), default="csv",
              show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="File to write (default: standard output).")
@settings_options
def export_notices(settings: Settings, fmt: str, output: IO[str]) -> None:
    """Export every notice ever published, oldest first, with its status now (showing,
    cleared or expired).

    CSV has the columns id, status, created_at, until, cleared_at, article, text, texts (the
    translations as JSON); times are ISO 8601 in UTC.

    \b
    Example:
        deskbell export notices --format csv -o notices.csv
        deskbell export notices --format json | jq '.[] | select(.status == "showing")'
    """
    with notice_errors():
        found = open_notice_store(settings).all()
    count = write_notices(found, fmt, output, datetime.now(UTC))
    click.echo(f"exported {count} notices", err=True)
    audit(settings, "export.notices", format=fmt, count=count)


export.add_command(export_tickets)

COMMANDS = [export]
