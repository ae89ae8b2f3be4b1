"""The README stays true: every setting and command is documented, CI runs the test command."""

from __future__ import annotations

import re

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
