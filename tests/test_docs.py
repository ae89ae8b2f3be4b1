"""The README stays true: every setting and command is documented, CI runs the test command."""

from __future__ import annotations

import re

import pytest

from cli.main import main
from widget_server.settings import SETTINGS

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", README, flags=re.MULTILINE))
    declared = {s.name for s in SETTINGS}
    assert declared - documented == set(), "settings missing from README"
    assert documented - declared == set(), "README documents settings that do not exist"


def test_every_command_is_in_the_readme() -> None:
    for name in main.commands:
        assert f"`deskbell {name}" in README, f"deskbell {name} is not documented"


def test_ci_runs_the_readme_test_command() -> None:
    assert "scripts/test.sh" in README
    assert "scripts/test.sh" in (REPO / ".ci" / "run").read_text()


def snippet_default(doc: str, attribute: str) -> str:
    """The Default cell of `attribute`'s row in a markdown table of snippet options."""
    lines = doc.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith(f"| `{attribute}` |"))
    header = next(line for line in reversed(lines[:row]) if not line.startswith(("| `", "|-")))
    names = [cell.strip().lower() for cell in header.strip("|").split("|")]
    return lines[row].strip("|").split("|")[names.index("default")].strip()


@pytest.mark.parametrize("doc", ["README.md", "kb/embedding/embed-snippet.md"])
def test_snippet_defaults_in_the_docs_are_the_loaders(doc: str) -> None:
    text = (REPO / doc).read_text(encoding="utf-8")
    loader = (REPO / "static" / "widget" / "loader.js").read_text(encoding="utf-8")
    color = re.search(r"var color = .*\? data\.color : '(#[0-9a-f]+)'", loader)
    mode = re.search(r"var mode = .*\? data\.mode : '([\w-]+)'", loader)
    assert color and mode, "loader.js no longer reads its defaults this way: update this test"
    assert snippet_default(text, "data-color").startswith(f"`{color.group(1)}`")
    assert snippet_default(text, "data-mode") == f"`{mode.group(1)}`"
