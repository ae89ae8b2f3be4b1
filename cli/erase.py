"""`deskbell erase`: remove one person's tickets (a right-to-erasure request)."""

from __future__ import annotations

import click

from widget_server.settings import Settings

from .agents import record as audit
from .options import settings_options
from .tickets import open_helpdesk, store_errors


@click.command()
@click.option("--email", required=True, help="Address whose tickets are removed.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@settings_options
def erase(settings: Settings, email: str, yes: bool) -> None:
    """Erase every ticket opened with an email address, backups of the changed files included,
    and the attached files no other ticket holds.

    Safe while the server runs, and safe to re-run after an interruption. Events hold no
    personal data and are not touched.

    \b
    Example:
        deskbell erase --email ana@example.com --yes
    """
    if "@" not in email:
        raise click.ClickException(f"{email!r} is not an email address")
    with store_errors():
        helpdesk = open_helpdesk(settings)
        if not yes:
            click.confirm(f"Erase every ticket of {email}?", abort=True)
        count = helpdesk.erase(email)
    audit(settings, "erase", email, tickets=count)
    click.echo(f"erased {count} ticket(s) of {email}, with their attachments")


COMMANDS = [erase]
