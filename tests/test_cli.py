"""The deskbell command: every command's --help, exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main

from .conftest import DATA


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_every_command_has_help_with_example(runner: CliRunner) -> None:
    def walk(group, path):  # type: ignore[no-untyped-def]
        for name, command in group.commands.items():
            yield [*path, name], command
            if hasattr(command, "commands"):
                yield from walk(command, [*path, name])

    for path, command in walk(main, []):
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, path
        if not hasattr(command, "commands"):
            assert "Example:" in result.output, f"deskbell {' '.join(path)} --help has no example"


def test_check_reports_every_problem_and_exits_1(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", "--kb", str(DATA / "broken")])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.endswith("types.md:4: draft: expected true or false, got 'maybe'") for line in lines)
    assert any("latin1.md:4: file is not valid UTF-8 text" in line for line in lines)
    assert any("unsafe.md:2: unsafe or unknown YAML tag" in line for line in lines)


def test_check_passes_on_good_kb_and_touches_no_index(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["check", "--kb", str(DATA / "kb"), "--data-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert not (tmp_path / "index").exists()


def test_bundled_kb_is_valid(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", "--kb", str(Path(__file__).parent.parent / "kb")])
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.stderr


def test_reindex_then_search(runner: CliRunner, kb_dir: Path, tmp_path: Path) -> None:
    args = ["--kb", str(kb_dir), "--data-dir", str(tmp_path / "d")]
    first = runner.invoke(main, ["reindex", *args])
    assert first.exit_code == 0
    assert "7 indexed, 0 unchanged" in first.stdout
    again = runner.invoke(main, ["reindex", *args])
    assert "0 indexed, 7 unchanged" in again.stdout
    found = runner.invoke(main, ["search", "resett pasword", *args])
    assert found.exit_code == 0 and "Reset your password" in found.stdout
    as_json = runner.invoke(main, ["search", "refund", "--json", *args])
    assert json.loads(as_json.stdout)[0]["slug"] == "billing/refunds"


def test_search_without_index_says_what_to_do(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["search", "x", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "run `deskbell reindex` first" in result.output


def test_missing_kb_is_one_line_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["reindex", "--kb", str(tmp_path / "nope"), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "knowledge base folder not found" in result.output


def test_bad_setting_fails_with_its_name(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["config"], env={"DESKBELL_PORT": "nope"})
    assert result.exit_code == 1
    assert "setting port (DESKBELL_PORT): expected a whole number" in result.output


def test_snippet_prints_the_embed_line(runner: CliRunner) -> None:
    result = runner.invoke(main, ["snippet", "--url", "https://help.example.com/"])
    assert result.stdout.strip() == (
        '<script async src="https://help.example.com/widget.js" data-site="default"></script>'
    )


def test_init_writes_config_and_kb(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "site"
    result = runner.invoke(main, ["init", str(target)])
    assert result.exit_code == 0
    assert (target / "deskbell.toml").is_file() and any((target / "kb").rglob("*.md"))
    again = runner.invoke(main, ["init", str(target)])
    assert again.exit_code == 1 and "--force" in again.output
