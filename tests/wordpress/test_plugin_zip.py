"""`deskbell wordpress-plugin`: the zip WordPress's uploader accepts, with valid PHP and readme."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from click.testing import CliRunner

from cli.main import main
from cli.wordpress import plugin_dir

from .conftest import missing


def build(tmp_path: Path, name: str = "deskbell.zip") -> Path:
    target = tmp_path / name
    result = CliRunner().invoke(main, ["wordpress-plugin", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert f"wrote {target}" in result.output
    return target


def test_zip_holds_the_plugin_under_one_folder(tmp_path: Path) -> None:
    with zipfile.ZipFile(build(tmp_path)) as zf:
        names = zf.namelist()
        header = zf.read("deskbell/deskbell.php").decode()
    assert {"deskbell/deskbell.php", "deskbell/uninstall.php", "deskbell/readme.txt",
            "deskbell/blocks/search/block.json"} <= set(names)
    assert all(n.startswith("deskbell/") for n in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".py")]
    assert "Requires at least: 6.1" in header and "Requires PHP:      7.4" in header


def test_same_plugin_builds_the_same_bytes(tmp_path: Path) -> None:
    assert build(tmp_path, "a.zip").read_bytes() == build(tmp_path, "b.zip").read_bytes()


def testmissing_output_folder_fails_with_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["wordpress-plugin", "-o", str(tmp_path / "no" / "x.zip")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: folder does not exist: {tmp_path / 'no'}"]
    assert not (tmp_path / "no").exists()


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(main, ["wordpress-plugin", "--help"])
    assert "Example:" in result.output and "deskbell wordpress-plugin -o deskbell.zip" in result.output


def test_readme_follows_the_wordpress_org_format() -> None:
    readme = (plugin_dir() / "readme.txt").read_text()
    header = (plugin_dir() / "deskbell.php").read_text()
    for field in ("Contributors", "Tags", "Requires at least", "Tested up to", "Stable tag",
                  "Requires PHP", "License"):
        assert re.search(rf"^{field}: \S", readme, flags=re.MULTILINE), field
    for section in ("Description", "Installation", "Frequently Asked Questions",
                    "External services", "Changelog"):
        assert f"== {section} ==" in readme
    stable = re.search(r"^Stable tag: (\S+)", readme, flags=re.MULTILINE)
    version = re.search(r"^ \* Version:\s+(\S+)", header, flags=re.MULTILINE)
    assert stable and version and stable.group(1) == version.group(1)


def test_every_php_file_parses() -> None:
    php = shutil.which("php")
    if php is None:
        missing("php is not installed")
    files = sorted(plugin_dir().rglob("*.php"))
    assert len(files) >= 8
    for path in files:
        done = subprocess.run([str(php), "-l", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
