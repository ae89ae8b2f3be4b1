"""Commands that run servers: serve (production) and demo (bundled KB plus a host page)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import click
import uvicorn

from widget_server import resources
from widget_server.app import create_app
from widget_server.articles import LocaleOptions
from widget_server.demo import create_host_app
from widget_server.search import ReindexBusy, current_generation, reindex
from widget_server.settings import Settings

from .options import resolve_settings, settings_options


@click.command()
@click.option("--host", default=None, help="Address to listen on (setting host).")
@click.option("--port", default=None, type=click.IntRange(0, 65535),
              help="Port to listen on (setting port); 0: any free port, shown in the log.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (settings then come from deskbell.toml / DESKBELL_*).")
@settings_options
def serve(settings: Settings, host: str | None, port: int | None, workers: int) -> None:
    """Run the Deskbell server.

    With --port 0 the system picks a free port as the socket is bound (with --workers too:
    the supervisor binds once and its workers share the socket); the start line "Uvicorn
    running on http://HOST:PORT" names it.

    \b
    Example:
        deskbell serve --host 0.0.0.0 --port 8000 --workers 4
    """
    settings = settings.replace(**{k: v for k, v in {"host": host, "port": port}.items() if v})
    port = settings.port if port is None else port  # 0 is no setting's value, only an option
    if current_generation(settings.index_dir) is None:
        click.echo("No search index yet; building it from the knowledge base first.", err=True)
        _reindex(settings)
    if workers > 1:
        # Workers import the app themselves, so the resolved settings travel as environment.
        for name, value in settings.values.items():
            # An unset optional setting (answer_threshold) travels as "", never as "None".
            text = ",".join(value) if isinstance(value, tuple) else "" if value is None else str(value)
            os.environ[f"DESKBELL_{name.upper()}"] = text
        uvicorn.run("widget_server.app:app_from_env", factory=True, host=settings.host,
                    port=port, workers=workers, log_level="info")
        return
    uvicorn.run(_build(settings), host=settings.host, port=port, log_level="info")


def _build(settings: Settings):  # type: ignore[no-untyped-def]
    try:
        return create_app(settings)
    except Exception as exc:  # a store that refuses to open must stop the start, in one line
        raise click.ClickException(str(exc)) from None


def _reindex(settings: Settings) -> None:
    try:
        result = reindex(Path(settings.kb_dir), settings.index_dir, semantic=settings.semantic,
                         locales=LocaleOptions.from_settings(settings))
    except (ReindexBusy, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.summary(), err=True)


@click.command()
@click.option("--port", default=8000, show_default=True, type=int, help="Port of the Deskbell server.")
@click.option("--host-port", default=8001, show_default=True, type=int,
              help="Port of the demo host page (another origin).")
@click.option("--data-dir", default=None, help="Data folder (default: a fresh temporary one).")
def demo(port: int, host_port: int, data_dir: str | None) -> None:
    """Serve the bundled knowledge base and a demo shop page that embeds the widget.

    The server runs on http://127.0.0.1:PORT and the host page on
    http://localhost:HOST-PORT, a different origin, as on a real site.

    \b
    Example:
        deskbell demo --port 8000 --host-port 8001
    """
    kb = resources.bundled_kb_dir()
    if kb is None:
        raise click.ClickException("the bundled knowledge base was not found")
    data = data_dir or tempfile.mkdtemp(prefix="deskbell-demo-")
    host_origin = f"http://localhost:{host_port}"
    settings = resolve_settings({
        "kb_dir": str(kb), "data_dir": data, "port": port,
        "public_url": f"http://127.0.0.1:{port}", "allowed_origins": host_origin,
        "admin_password": os.environ.get("DESKBELL_ADMIN_PASSWORD") or "demo",
    })
    _reindex(settings)
    app = _build(settings)
    host_app = create_host_app(f"http://127.0.0.1:{port}")
    click.echo(f"Help center:  http://127.0.0.1:{port}/kb/")
    click.echo(f"Demo site:    {host_origin}/   (the widget, embedded cross-origin)")
    click.echo(f"Admin:        http://127.0.0.1:{port}/admin/  (password: {settings.admin_password})")
    click.echo(f"Data folder:  {data}")
    servers = [
        uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")),
        uvicorn.Server(uvicorn.Config(host_app, host="127.0.0.1", port=host_port, log_level="warning")),
    ]
    asyncio.run(_serve_all(servers))


async def _serve_all(servers: list[uvicorn.Server]) -> None:
    await asyncio.gather(*(s.serve() for s in servers))


COMMANDS = [serve, demo]
