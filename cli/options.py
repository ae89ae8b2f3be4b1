"""Options every command shares, as decorators, and the one place settings errors become exits."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import click

from widget_server.settings import Settings, SettingsError, load_settings


def settings_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --kb, --data-dir and --config, and pass the resolved `settings` to the command."""

    @click.option("--kb", "kb_dir", type=click.Path(file_okay=False), default=None,
                  help="Knowledge-base folder (setting kb_dir, default ./kb).")
    @click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                  help="Data folder for index, tickets, events (setting data_dir).")
    @click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
                  help="Settings file (default ./deskbell.toml if present).")
    @functools.wraps(func)
    def wrapper(*args: Any, kb_dir: str | None, data_dir: str | None, config_file: str | None,
                **kwargs: Any) -> Any:
        overrides = {"kb_dir": kb_dir, "data_dir": data_dir, **kwargs.pop("_overrides", {})}
        kwargs["settings"] = resolve_settings(overrides, config_file)
        return func(*args, **kwargs)

    return wrapper


def resolve_settings(overrides: dict[str, Any], config_file: str | None = None) -> Settings:
    if config_file and not os.path.isfile(config_file):
        raise click.ClickException(f"settings file not found: {config_file}")
    try:
        return load_settings(overrides=overrides, config_file=config_file or "deskbell.toml")
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
