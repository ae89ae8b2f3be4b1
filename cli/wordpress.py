"""`deskbell wordpress-plugin`: package the WordPress plugin as an installable zip."""

from __future__ import annotations

import zipfile
from pathlib import Path

import click

from widget_server import resources
from widget_server.durable import replacing

# Fixed timestamp: the same plugin always builds the same bytes.
ZIP_TIME = (2026, 1, 1, 0, 0, 0)
SKIPPED = {"__pycache__", "__init__.py"}


def plugin_dir() -> Path:
    """integrations/wordpress/deskbell in a checkout; widget_server/_wordpress in a wheel."""
    checkout = resources.PACKAGE_DIR.parent / "integrations" / "wordpress" / "deskbell"
    if checkout.is_dir():
        return checkout
    return resources.PACKAGE_DIR / "_wordpress"


def plugin_files(root: Path) -> list[Path]:
    files = [p for p in root.rglob("*") if p.is_file() and not SKIPPED & set(p.parts)]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def write_plugin_zip(output: Path, root: Path | None = None) -> int:
    """Write the plugin as deskbell/... entries (what WordPress's uploader expects)."""
    root = root or plugin_dir()
    if not (root / "deskbell.php").is_file():
        raise FileNotFoundError(f"the WordPress plugin is missing from {root}")
    files = plugin_files(root)
    # Written aside and renamed, so a failed run never leaves half a zip behind.
    with replacing(output, binary=True) as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            info = zipfile.ZipInfo(f"deskbell/{path.relative_to(root).as_posix()}", ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return len(files)


@click.command(name="wordpress-plugin")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default="deskbell.zip",
              show_default=True, help="Where to write the plugin zip.")
def wordpress_plugin(output: str) -> None:
    """Write the Deskbell WordPress plugin as a zip to upload under Plugins → Add New.

    \b
    Example:
        deskbell wordpress-plugin -o deskbell.zip
    """
    target = Path(output)
    if not target.parent.resolve().is_dir():
        raise click.ClickException(f"folder does not exist: {target.parent}")
    try:
        count = write_plugin_zip(target)
    except (OSError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {target} ({count} files); upload it under Plugins → Add New Plugin")


COMMANDS = [wordpress_plugin]
