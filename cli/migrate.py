"""`deskbell migrate-store`: copy tickets, notices and events from one place to another, then
prove it.

A place (--from, --to) is one of

    postgresql://…   a PostgreSQL database, its schema current (`deskbell db upgrade`)
    json             the JSON stores under the data_dir setting (tickets/ and events/)
    json:DIR         the JSON stores under the data folder DIR (created for --to)

and holds tickets, notices and events. Without --from the source is what the settings name:
tickets and notices from ticket_store (notices live beside the tickets: notices.json in the
data folder, or the `notices` table), events from event_store. A kind whose source already is the target
is left alone; memory keeps nothing, so it is no place. Nothing is ever deleted or changed in
the source.

Copying is idempotent (a second run copies nothing) and resumable (a run killed at any point
and run again ends with exactly the source's content in the target):

- Tickets are matched by reference: one the target holds already is not copied again, nor
  overwritten. Each is added on its own, durably, so a kill loses at most the one being added,
  and the next run adds it.
- Notices (the help panel's banners, expired and cleared ones too: they are the history of
  what visitors were told) are matched by id the same way, and copied in the source's order,
  which is the order `deskbell notice list` and the export show.
- Events have no identity of their own, and two identical events are not one: a batch shares
  one instant, so the same search sent twice in a batch is two equal events. So no column is
  unique; an event is named by its content (`events.event_key`: its JSON line, time in UTC)
  together with its occurrence, the n-th equal event of its UTC day. Day by day, the target's
  events of that day are counted by key, and a source event is copied only past the count the
  target already holds. Copies go in batches of --batch through `append_many`, all or nothing
  in PostgreSQL (one transaction) and in a JSON day file (one write), so a kill leaves whole
  batches, and the next run copies what is missing. Memory: one day's keys of the target.
- An event the vocabulary now refuses (a session or field of an older Deskbell) cannot be
  written anywhere: it is counted, reported and left out, never half-copied.
- Tickets read from PostgreSQL come with JSONB's key order, which means nothing; they are put
  back in the model's order (the order tickets/model.py writes them in) before being written, so
  JSON → PostgreSQL → JSON gives back the same files' exports byte for byte.

Verification reads both sides again: every source ticket must be in the target with the same
sha256 of its canonical JSON (keys sorted), every source notice with the same sha256 of its
stored shape (Notice.as_dict), every source event (by key and occurrence, per UTC
day) must be in the target, and the counts are printed. A difference exits 1 naming it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click

from widget_server.errors import DeskbellError, ValidationFailed
from widget_server.events import EventStore, JSONEventStore, NewEvent, event_key, utc_now
from widget_server.events.protocol import encode
from widget_server.notices import JSONNoticeStore, Notice, NoticeStore
from widget_server.settings import POSTGRES_SCHEMES, SETTINGS, Settings, shown
from widget_server.tickets import JSONTicketStore, Ticket, TicketStore
from widget_server.tickets.canonical import in_model_order, model_ticket

from .options import settings_options

JSON_PLACE = "json"
SHOWN_LIKE = next(s for s in SETTINGS if s.name == "ticket_store")  # masks a URL's password


@dataclass(frozen=True)
class Place:
    """Where one kind of record lives: ("postgresql", url) or ("json", data folder)."""

    kind: str
    where: str

    @property
    def label(self) -> str:
        return shown(SHOWN_LIKE, self.where) if self.kind == "postgresql" else \
            f"json:{self.where}"


def parse_place(text: str, settings: Settings, option: str) -> Place:
    """--from or --to as a Place (a usage error names the option)."""
    if text.startswith(POSTGRES_SCHEMES):
        return Place("postgresql", text)
    if text == JSON_PLACE:
        return Place("json", str(Path(settings.data_dir).expanduser().resolve()))
    if text.startswith(JSON_PLACE + ":") and text[len(JSON_PLACE) + 1:].strip():
        return Place("json", str(Path(text[len(JSON_PLACE) + 1:]).expanduser().resolve()))
    raise click.BadParameter("expected postgresql://…, json (the data_dir setting) or "
                             "json:/path/to/data_dir", param_hint=option)


def configured(settings: Settings, setting: str) -> Place:
    """The place a store setting names; memory keeps nothing to copy."""
    kind = str(getattr(settings, setting))
    if kind.startswith(POSTGRES_SCHEMES):
        return Place("postgresql", kind)
    if kind == "json":
        return Place("json", str(Path(settings.data_dir).expanduser().resolve()))
    raise click.ClickException(f"{setting} is {kind}, which keeps nothing to migrate: name the "
                               "source with --from")


# --- opening -----------------------------------------------------------------------------------


@contextmanager
def opening(place: Place, option: str) -> Iterator[None]:
    """A store that cannot be opened becomes one line naming the option and the place."""
    try:
        yield
    except ImportError as exc:
        raise click.ClickException(f"PostgreSQL needs the postgresql extra: pip install "
                                   f"'deskbell[postgresql]' ({exc})") from None
    except DeskbellError as exc:
        hint = (" (for a database the settings do not name yet: "
                "DESKBELL_TICKET_STORE='<that URL>' deskbell db upgrade)"
                if exc.message.endswith("run deskbell db upgrade") else "")
        raise click.ClickException(f"{option} {place.label}: {exc.message}{hint}") from None
    except OSError as exc:
        raise click.ClickException(f"{option} {place.label}: {exc}") from None


def _json_folder(place: Place, option: str) -> Path:
    folder = Path(place.where)
    if option == "--from" and not folder.is_dir():
        raise click.ClickException(f"--from {place.label}: no such data folder")
    return folder


def open_tickets(place: Place, option: str, stack: ExitStack) -> TicketStore:
    with opening(place, option):
        if place.kind == "json":
            return JSONTicketStore(_json_folder(place, option))
        from widget_server.tickets.postgres import PostgresTicketStore

        store = PostgresTicketStore(place.where)
        stack.callback(store.close)
        return store


def open_events(place: Place, option: str, settings: Settings, stack: ExitStack) -> EventStore:
    """The event store at `place`, retention off (a copy deletes nothing, and keeps every day
    it copies; the server applies retention when it next opens the store)."""
    cap = settings.events_max_day_mb * 1024 * 1024
    with opening(place, option):
        if place.kind == "json":
            return JSONEventStore(_json_folder(place, option), retention_days=None,
                                  max_day_bytes=cap)
        from widget_server.events.postgres import PostgresEventStore

        store = PostgresEventStore(place.where, retention_days=None, max_day_bytes=cap)
        stack.callback(store.close)
        return store


def open_notices(place: Place, option: str, stack: ExitStack) -> NoticeStore:
    """The notices kept at `place` (beside its tickets)."""
    with opening(place, option):
        if place.kind == "json":
            return JSONNoticeStore(_json_folder(place, option))
        from widget_server.notices.postgres import PostgresNoticeStore

        store = PostgresNoticeStore(place.where)
        stack.callback(store.close)
        return store


# --- tickets -----------------------------------------------------------------------------------


def checksum(ticket: Ticket) -> str:
    """sha256 of the ticket's canonical JSON: keys sorted, no spaces, UTF-8."""
    text = json.dumps(ticket, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Tally:
    source: int = 0
    copied: int = 0
    present: int = 0
    refused: Counter[str] = field(default_factory=Counter)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _bar(length: int, label: str) -> Any:
    return click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True)


def copy_tickets(source: TicketStore, target: TicketStore, batch: int, reorder: bool) -> Tally:
    tally = Tally(source=source.count())
    model = model_ticket() if reorder else None
    with _bar(tally.source, "tickets") as bar:
        for chunk in _chunks(source.iter_tickets(), batch):
            for ticket in chunk:
                if target.get(ticket["reference"]) is not None:
                    tally.present += 1
                    continue
                reference = ticket["reference"]
                stored = target.add(in_model_order(ticket, model) if model is not None
                                    else ticket)
                if stored["reference"] != reference:  # a store renews a reference it holds
                    raise click.ClickException(
                        f"ticket {reference} was stored in the target as {stored['reference']}, "
                        f"because the target's index already named {reference} without holding "
                        "it (a JSON store's write cut short by a kill); that copy is the "
                        f"source's {reference}")
                tally.copied += 1
            bar.update(len(chunk))
    return tally


def verify_tickets(source: TicketStore, target: TicketStore) -> list[str]:
    problems = []
    for ticket in source.iter_tickets():
        there = target.get(ticket["reference"])
        if there is None:
            problems.append(f"ticket {ticket['reference']} is not in the target")
        elif checksum(there) != checksum(ticket):
            problems.append(f"ticket {ticket['reference']} differs in the target (sha256 "
                            f"{checksum(ticket)[:12]}… in the source, {checksum(there)[:12]}… "
                            "in the target)")
    return problems


# --- notices -----------------------------------------------------------------------------------


def notice_checksum(notice: Notice) -> str:
    """sha256 of the notice's stored shape (as_dict: times in UTC to the second) as canonical
    JSON, so a notice compares equal across stores."""
    return checksum(notice.as_dict())


def copy_notices(source: NoticeStore, target: NoticeStore) -> Tally:
    """Every source notice the target does not hold by id, added in the source's order."""
    notices = source.all()
    tally = Tally(source=len(notices))
    held = {n.id for n in target.all()}
    for notice in notices:
        if notice.id in held:
            tally.present += 1
            continue
        target.add(notice)
        held.add(notice.id)
        tally.copied += 1
    return tally


def verify_notices(source: NoticeStore, target: NoticeStore) -> list[str]:
    there = {n.id: n for n in target.all()}
    problems = []
    for notice in source.all():
        copy = there.get(notice.id)
        if copy is None:
            problems.append(f"notice {notice.id} is not in the target")
        elif notice_checksum(copy) != notice_checksum(notice):
            problems.append(f"notice {notice.id} differs in the target (sha256 "
                            f"{notice_checksum(notice)[:12]}… in the source, "
                            f"{notice_checksum(copy)[:12]}… in the target)")
    return problems


# --- events ------------------------------------------------------------------------------------


def _day_range(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _as_new(event: dict[str, Any]) -> NewEvent:
    return NewEvent(event["session"], event["type"], event["data"], event["_at"])


def _refusal(event: dict[str, Any], now: datetime) -> str | None:
    """Why the vocabulary refuses to write `event` now (None: it is writable)."""
    try:
        encode(_as_new(event), now)
    except ValidationFailed as exc:
        return ", ".join(f"{where} {problem}" for where, problem in exc.details.items()) \
            or exc.message
    return None


def copy_events(source: EventStore, target: EventStore, batch: int) -> Tally:
    tally = Tally(source=source.count())
    now = utc_now()
    with _bar(tally.source, "events") as bar:
        for day in source.days():
            since, until = _day_range(day)
            held = Counter(event_key(e) for e in target.iter_events(since, until))
            pending: list[NewEvent] = []
            for event in source.iter_events(since, until):
                bar.update(1)
                key = event_key(event)
                if held[key] > 0:  # this occurrence is in the target already
                    held[key] -= 1
                    tally.present += 1
                    continue
                problem = _refusal(event, now)
                if problem is not None:
                    tally.refused[problem] += 1
                    continue
                pending.append(_as_new(event))
                if len(pending) >= batch:
                    tally.copied += target.append_many(pending)
                    pending = []
            if pending:
                tally.copied += target.append_many(pending)
    return tally


def verify_events(source: EventStore, target: EventStore) -> list[str]:
    problems = []
    now = utc_now()
    for day in source.days():
        since, until = _day_range(day)
        wanted = Counter(event_key(e) for e in source.iter_events(since, until)
                         if _refusal(e, now) is None)
        missing = wanted - Counter(event_key(e) for e in target.iter_events(since, until))
        if missing:
            problems.append(f"{missing.total()} event(s) of {day.isoformat()} are not in the "
                            "target")
    return problems


# --- the command -------------------------------------------------------------------------------


@click.command(name="migrate-store")
@click.option("--to", "to_place", required=True, metavar="URL|json[:DIR]",
              help="Where to copy to: a postgresql:// URL, json (the data_dir setting) or "
                   "json:/path/to/data_dir.")
@click.option("--from", "from_place", default=None, metavar="URL|json[:DIR]",
              help="Where to copy from (default: the ticket_store and event_store settings).")
@click.option("--batch", type=click.IntRange(1, 100000), default=500, show_default=True,
              help="Tickets per progress step, events per write.")
@settings_options
def migrate_store(settings: Settings, to_place: str, from_place: str | None,
                  batch: int) -> None:
    """Copy tickets, notices and events to another store, then verify the copy.

    Idempotent and resumable: run it again after an interruption and it copies only what is
    missing; nothing is deleted from the source. Notices move with the tickets. Afterwards
    point ticket_store and event_store at the target.

    \b
    Example:
        deskbell db upgrade    # with ticket_store or event_store set to the new database
        deskbell migrate-store --to postgresql://deskbell@db.example.com/deskbell
        deskbell migrate-store --from postgresql://deskbell@db.example.com/deskbell \\
            --to json:/srv/deskbell/data
    """
    target = parse_place(to_place, settings, "--to")
    if from_place is None:
        sources = {"tickets": configured(settings, "ticket_store"),
                   "events": configured(settings, "event_store")}
    else:
        place = parse_place(from_place, settings, "--from")
        sources = {"tickets": place, "events": place}
    moving = {kind: place for kind, place in sources.items() if place != target}
    if not moving:
        raise click.ClickException(f"--from and --to are the same place ({target.label}): "
                                   "nothing to copy")
    for kind in sources.keys() - moving.keys():
        click.echo(f"{kind}: already kept in {target.label}, nothing to copy")

    with ExitStack() as stack:
        tickets = events = None
        notices: tuple[NoticeStore, NoticeStore] | None = None
        if "tickets" in moving:
            tickets = (open_tickets(moving["tickets"], "--from", stack),
                       open_tickets(target, "--to", stack))
            notices = (open_notices(moving["tickets"], "--from", stack),
                       open_notices(target, "--to", stack))
        if "events" in moving:
            events = (open_events(moving["events"], "--from", settings, stack),
                      open_events(target, "--to", settings, stack))
        lines: list[str] = []
        verified: list[str] = []
        held: list[str] = []
        problems: list[str] = []
        try:
            if tickets is not None:
                done = copy_tickets(*tickets, batch,
                                    reorder=moving["tickets"].kind == "postgresql")
                lines.append(f"tickets: {done.source} in {moving['tickets'].label}; "
                             f"{done.copied} copied, {done.present} already in the target")
                verified.append(f"all {done.source} tickets (sha256 of each)")
            if notices is not None:
                shown = copy_notices(*notices)
                lines.append(f"notices: {shown.source} in {moving['tickets'].label}; "
                             f"{shown.copied} copied, {shown.present} already in the target")
                verified.append(f"all {shown.source} notices (sha256 of each)")
            if events is not None:
                got = copy_events(*events, batch)
                lines.append(f"events: {got.source} in {moving['events'].label}; "
                             f"{got.copied} copied, {got.present} already in the target")
                for reason, count in sorted(got.refused.items()):
                    lines.append(f"warning: {count} event(s) not copied: the event vocabulary "
                                 f"refuses them now ({reason})")
                verified.append(f"all {got.source - got.refused.total()} events (per UTC day)")
            if tickets is not None:
                problems += verify_tickets(*tickets)
                held.append(f"{tickets[1].count()} tickets")
            if notices is not None:
                problems += verify_notices(*notices)
                held.append(f"{len(notices[1].all())} notices")
            if events is not None:
                problems += verify_events(*events)
                held.append(f"{events[1].count()} events")
        except DeskbellError as exc:
            raise click.ClickException(f"{exc.message} (run the command again to resume)") \
                from None
    for line in lines:
        click.echo(line)
    if problems:
        listed = problems[:20] + ([f"and {len(problems) - 20} more"] if len(problems) > 20
                                  else [])
        raise click.ClickException("verification failed: " + "; ".join(listed))
    click.echo(f"verified: {_listed(verified)} of the source are in {target.label}, which now "
               f"holds {_listed(held)}")


def _listed(parts: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return " and ".join(parts) if len(parts) < 3 else f"{', '.join(parts[:-1])} and {parts[-1]}"


COMMANDS = [migrate_store]
