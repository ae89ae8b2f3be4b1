"""The one place that knows where templates and widget assets live (checkout or installed wheel)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"


@cache
def widget_dir() -> Path:
    """static/widget/ in a checkout; widget_server/_widget/ inside an installed wheel."""
    checkout = PACKAGE_DIR.parent / "static" / "widget"
    if checkout.is_dir():
        return checkout
    return PACKAGE_DIR / "_widget"


def bundled_kb_dir() -> Path | None:
    """The bundled user guide: kb/ in a checkout; widget_server/_kb/ inside a wheel."""
    for kb in (PACKAGE_DIR.parent / "kb", PACKAGE_DIR / "_kb"):
        if kb.is_dir():
            return kb
    return None
