"""A plain `pip install .` must carry templates, widget assets and the user guide."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import REPO


def test_wheel_contains_templates_widget_and_kb(tmp_path: Path) -> None:
    # Built from a copy: a leftover build/ in the checkout would lend the wheel stale files.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "build", "*.egg-info", "__pycache__", "tests",
        "benchmarks", "test-artifacts"))
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(source)],
        check=True, capture_output=True,
    )
    wheel = next(tmp_path.glob("deskbell-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "widget_server/templates/base.html",
        "widget_server/templates/kb/article.html",
        "widget_server/templates/embed.html",
        "widget_server/static/site.css",
        "widget_server/_widget/loader.js",
        "widget_server/_widget/panel.js",
        "widget_server/_widget/panel.css",
        *(f"widget_server/_widget/i18n/{locale}.json" for locale in ("en", "es", "de", "fr", "ar")),
        "widget_server/search/model/tokenizer.json",  # search by meaning needs it at run time
        "widget_server/_kb/getting-started/installing.md",
        "cli/main.py",
    }
    assert expected <= names, sorted(expected - names)
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "widget_server").rglob("*.py")}
    assert modules <= names, sorted(modules - names)  # a package left out of pyproject.toml
    assert not any(n.startswith("tests/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "deskbell = cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
