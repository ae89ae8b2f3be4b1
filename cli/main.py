"""The `deskbell` command: a click group; each command is a thin wrapper over widget_server."""

from __future__ import annotations

import click

from widget_server.errors import DeskbellError

from . import (
    agents,
    db,
    erase,
    evaluate,
    export,
    gaps,
    identity,
    kb,
    mailin,
    migrate,
    notice,
    report,
    serve,
    tickets,
    wordpress,
)


class DeskbellGroup(click.Group):
    """Any Deskbell error a command does not handle itself (a store that cannot be read, an
    event file in the way) ends the command with its one-line message and exit code 1, never
    a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DeskbellError as exc:
            raise click.ClickException(exc.message) from None


@click.group(cls=DeskbellGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="deskbell", prog_name="deskbell")
def main() -> None:
    """Deskbell: a self-hosted help widget with a markdown knowledge base.

    \b
    Example:
        deskbell init            # deskbell.toml and a sample kb/
        deskbell check           # validate articles
        deskbell reindex         # build the search index
        deskbell serve           # run the server
    """


for command in (*kb.COMMANDS, *serve.COMMANDS, *report.COMMANDS, *export.COMMANDS,
                *tickets.COMMANDS, *erase.COMMANDS, *wordpress.COMMANDS, *evaluate.COMMANDS,
                *db.COMMANDS, *migrate.COMMANDS, *gaps.COMMANDS, *notice.COMMANDS,
                *mailin.COMMANDS, *identity.COMMANDS, *agents.COMMANDS):
    main.add_command(command)
