"""`deskbell agents …` and `deskbell audit`: the team's accounts and the audit log, from the
server's terminal.

How roles apply to the command line: `deskbell` runs on the server, as someone who can read
its settings and data folder, so it acts as the owner. What it changes on the team, and every
export, erasure and notice, is recorded in the audit log with "cli" as the actor, "cli" as the
address and the operating-system user in the entry's detail. Passwords are read from a hidden
prompt (typed twice) or, with --password-stdin, as one line of standard input; they are never
taken as an option, printed or logged.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import click

from widget_server.errors import DeskbellError
from widget_server.security import AdminAuth
from widget_server.settings import Settings, load_settings
from widget_server.team import OWNER, ROLES, Actor, AuditEntry, Team, open_team_store

from .options import settings_options

DAY = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"])
AUDIT_COLUMNS = ["at", "actor", "agent_id", "ip", "action", "target", "detail"]


@contextmanager
def team_errors() -> Iterator[None]:
    try:
        yield
    except DeskbellError as exc:
        raise click.ClickException(exc.message) from None


def open_team(settings: Settings) -> Team:
    """The team over the store beside the tickets (no rate limits: the CLI signs no one in)."""
    with team_errors():
        admin = AdminAuth.from_settings(settings)
        return Team(open_team_store(settings), settings, None, admin.password, admin.key)


def record(settings: Settings, action: str, target: str = "", **detail: object) -> None:
    """Append one CLI action to the audit log (exports, erasures, notices)."""
    with team_errors():
        team = open_team(settings)
        try:
            team.record(Actor.cli(), action, target, **detail)
        finally:
            team.store.close()


def add_owner(data_dir: Path, name: str) -> None:
    """`deskbell init --owner NAME`: the first owner, in the data folder init configured."""
    settings = load_settings(overrides={"data_dir": str(data_dir)}, config_file=None,
                             environ={})
    team = open_team(settings)
    with team_errors():
        agent = team.add_agent(name, "", OWNER, _password(False), Actor.cli())
    click.echo(f"added the owner {agent.name}", err=True)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@click.group()
def agents() -> None:
    """Agent accounts: add, list, disable, reset passwords, change roles, sessions.

    \b
    Roles: owner (agents, sessions, notices, exports, erasure, insights),
           agent (inbox, replies, notes, statuses; insights read-only),
           read-only (tickets and insights; no replies).
    Every change is recorded in the audit log with "cli" as the actor.

    \b
    Example:
        deskbell agents add maria --name "Maria S." --role agent
        deskbell agents list
    """


@agents.command(name="add")
@click.argument("name")
@click.option("--name", "display_name", default="", help="Name shown to visitors and agents.")
@click.option("--role", type=click.Choice([*ROLES, "readonly"]), default="agent",
              show_default=True)
@click.option("--email", default="", help="Where ticket assignments are emailed to them.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@settings_options
def add_command(settings: Settings, name: str, display_name: str, role: str,
                email: str, password_stdin: bool) -> None:
    """Add an agent who signs in as NAME (lower-case letters, digits, . - _).

    The first agent of an install is an owner. On an install with only admin_password, the
    owner "owner" is first created from it, so nobody is locked out.

    \b
    Example:
        deskbell agents add maria --name "Maria S." --role agent
        printf '%s\\n' "$PASSWORD" | deskbell agents add ci-bot --role read-only --password-stdin
    """
    team = open_team(settings)
    with team_errors():
        migrated = team.migrate_legacy(Actor.cli())
        if migrated is not None:
            click.echo(f"created the owner {migrated.name!r} from admin_password (it signs in "
                       "with that password; the setting is no longer read)", err=True)
        first = not team.agents()
        if first and role != OWNER:
            click.echo("the first agent is an owner", err=True)
            role = OWNER
        agent = team.add_agent(name, display_name, role, _password(password_stdin),
                               Actor.cli(), email)
    click.echo(f"added {agent.name} ({agent.role}, shown as {agent.display_name!r})")


@agents.command(name="list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@settings_options
def list_command(settings: Settings, fmt: str) -> None:
    """List agents: name, role, state, two-step sign-in, open sessions.

    \b
    Example:
        deskbell agents list --format json
    """
    team = open_team(settings)
    with team_errors():
        found = team.agents()
        open_sessions = team.sessions()
    counts = {a.id: sum(s.agent_id == a.id for s in open_sessions) for a in found}
    if fmt == "json":
        click.echo(json.dumps([{**a.public(), "sessions": counts[a.id]} for a in found],
                              indent=2, ensure_ascii=False))
        return
    for a in found:
        click.echo(f"{a.name:<20} {a.role:<9} {'disabled' if a.disabled else 'active':<8} "
                   f"two-step {'on ' if a.two_step else 'off'}  {counts[a.id]} session(s)  "
                   f"{a.display_name}")
    click.echo(f"{len(found)} agent(s)", err=True)


def _state(settings: Settings, name: str, disabled: bool) -> None:
    team = open_team(settings)
    with team_errors():
        agent = team.set_disabled(name, disabled, Actor.cli())
    click.echo(f"{agent.name} is {'disabled; their sessions ended' if disabled else 'active'}")


@agents.command(name="disable")
@click.argument("name")
@settings_options
def disable_command(settings: Settings, name: str) -> None:
    """Disable an agent: they cannot sign in, and their open sessions end at once.

    \b
    Example:
        deskbell agents disable maria
    """
    _state(settings, name, True)


@agents.command(name="enable")
@click.argument("name")
@settings_options
def enable_command(settings: Settings, name: str) -> None:
    """Let a disabled agent sign in again.

    \b
    Example:
        deskbell agents enable maria
    """
    _state(settings, name, False)


@agents.command(name="reset-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--two-step-off", is_flag=True,
              help="Also turn two-step sign-in off (a lost phone without recovery codes).")
@settings_options
def reset_password_command(settings: Settings, name: str, password_stdin: bool,
                           two_step_off: bool) -> None:
    """Give an agent a new password; their open sessions end.

    \b
    Example:
        deskbell agents reset-password maria --two-step-off
    """
    team = open_team(settings)
    with team_errors():
        team.migrate_legacy(Actor.cli())
        agent = team.reset_password(name, _password(password_stdin), Actor.cli())
        if two_step_off:
            agent = team.totp_off(agent, Actor.cli())
    click.echo(f"new password set for {agent.name}; their sessions ended"
               + ("; two-step sign-in is off" if two_step_off else ""))


@agents.command(name="set-role")
@click.argument("name")
@click.argument("role", type=click.Choice([*ROLES, "readonly"]))
@settings_options
def set_role_command(settings: Settings, name: str, role: str) -> None:
    """Change an agent's role (owner, agent, read-only); it applies at their next request.

    \b
    Example:
        deskbell agents set-role maria owner
    """
    team = open_team(settings)
    with team_errors():
        agent = team.set_role(name, role, Actor.cli())  # parse_role reads "readonly" too
    click.echo(f"{agent.name} is now {agent.role}")


@agents.command(name="set-email")
@click.argument("name")
@click.argument("email")
@settings_options
def set_email_command(settings: Settings, name: str, email: str) -> None:
    """Set the address an agent's ticket assignments are emailed to (`-` for none).

    \b
    Example:
        deskbell agents set-email maria maria@example.com
    """
    team = open_team(settings)
    with team_errors():
        agent = team.set_email(name, "" if email == "-" else email, Actor.cli())
    click.echo(f"{agent.name}: {agent.email or 'no email'}")


@agents.command(name="sessions")
@click.argument("name", required=False)
@click.option("--end", "end", metavar="SESSION", default=None,
              help="End the session with this id (the first column).")
@click.option("--end-all", is_flag=True, help="End every session of NAME.")
@settings_options
def sessions_command(settings: Settings, name: str | None, end: str | None,
                     end_all: bool) -> None:
    """List open sessions (of NAME, or everyone's), or end one or all of NAME's.

    \b
    Example:
        deskbell agents sessions maria
        deskbell agents sessions --end 3f9a2c1b7d4e6f80
        deskbell agents sessions maria --end-all
    """
    team = open_team(settings)
    with team_errors():
        if end:
            ended = team.end_session(end, Actor.cli())
            click.echo(f"ended session {ended.handle}")
            return
        agent = team.find(name) if name else None
        if end_all:
            if agent is None:
                raise click.UsageError("--end-all needs NAME")
            count = team.sign_out_everywhere(agent, Actor.cli())
            click.echo(f"ended {count} session(s) of {agent.name}")
            return
        names = {a.id: a.name for a in team.agents()}
        found = team.sessions(agent)
    for s in found:
        click.echo(f"{s.handle}  {names.get(s.agent_id, s.agent_id):<20} "
                   f"since {s.created_at:%Y-%m-%d %H:%M}  last {s.last_seen:%Y-%m-%d %H:%M} "
                   f"UTC  {s.ip:<15} {s.user_agent[:50]}")
    click.echo(f"{len(found)} open session(s)", err=True)


# ---------------------------------------------------------------- audit


def write_audit(entries: list[AuditEntry], fmt: str, out: IO[str]) -> None:
    rows = [e.as_dict() for e in entries]
    if fmt == "json":
        out.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(AUDIT_COLUMNS)
        for row in rows:
            cells = [row["at"], row["actor"], row["agent_id"] or "", row["ip"], row["action"],
                     row["target"], json.dumps(row["detail"], ensure_ascii=False,
                                               sort_keys=True)]
            writer.writerow([f"'{c}" if c[:1] in ("=", "+", "-", "@") else c for c in cells])
    else:
        for row in rows:
            detail = " ".join(f"{k}={v}" for k, v in sorted(row["detail"].items()))
            out.write(f"{row['at'][:19]}Z  {row['actor']:<16} {row['ip']:<15} "
                      f"{row['action']:<20} {row['target']:<20} {detail}\n")


@click.command(name="audit")
@click.option("--since", type=DAY, default=None,
              help="First UTC day (or minute) to include: 2026-11-01 or 2026-11-01T09:00.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True)
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="File to write (default: standard output).")
@settings_options
def audit_command(settings: Settings, since: datetime | None, fmt: str, output: IO[str]) -> None:
    """Print or export the audit log: sign-ins (and failures), agent and role changes,
    sessions ended, exports, erasures and notices, with who, when and from where.

    Entries older than audit_retention_days are dropped first. The log is append-only: no
    command or route edits it.

    \b
    Example:
        deskbell audit --since 2026-11-01
        deskbell audit --format csv -o audit.csv
    """
    team = open_team(settings)
    with team_errors():
        team.prune()
        entries = team.audit(since.replace(tzinfo=UTC) if since else None)
    write_audit(entries, fmt, output)
    if output is not sys.stdout:
        click.echo(f"{len(entries)} audit entries", err=True)
        with team_errors():
            team.record(Actor.cli(), "export.audit", format=fmt, count=len(entries))


COMMANDS = [agents, audit_command]
