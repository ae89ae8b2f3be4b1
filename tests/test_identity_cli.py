"""`deskbell identity`: the secret a new install gets, and snippets that sign as Deskbell checks.

Each snippet the command prints is run for real (PHP, Python, Node) and its output must pass
widget_server.identity.verify: code a site owner pastes must work as pasted."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

from click.testing import CliRunner

from cli.identity import SNIPPETS
from cli.main import main
from widget_server import identity

from .conftest import unavailable

SECRET = "paste-me-into-your-site-0123456789"
USER = {"id": 981, "name": 'Ada "Ace" <O\'Brien>', "email": "ada@example.com"}


def test_init_writes_a_private_identity_secret_that_identity_shows(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path)]).exit_code == 0
    config = tmp_path / "deskbell.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    secret = next(line.split('"')[1] for line in config.read_text().splitlines()
                  if line.startswith("identity_secret = "))
    assert len(secret) >= 40
    shown = runner.invoke(main, ["identity", "--config", str(config)])
    assert shown.exit_code == 0, shown.output
    assert f"identity_secret: {secret}" in shown.output
    for language in ("PHP", "Python", "Node", "WordPress"):
        assert f"-- {language}" in shown.output
    again = tmp_path / "again"
    runner.invoke(main, ["init", str(again)])
    assert secret not in (again / "deskbell.toml").read_text()  # each install its own


def test_without_a_secret_it_says_how_to_set_one() -> None:
    result = CliRunner().invoke(main, ["identity"], env={"DESKBELL_IDENTITY_SECRET": ""})
    assert result.exit_code == 1
    assert "identity_secret is not set" in result.output
    assert "Traceback" not in result.output


def test_sign_prints_the_signature_deskbell_checks() -> None:
    env = {"DESKBELL_IDENTITY_SECRET": SECRET}
    result = CliRunner().invoke(main, ["identity", "--sign", "981"], env=env)
    assert result.exit_code == 0
    assert result.output.strip() == identity.sign(SECRET, "981")
    as_json = CliRunner().invoke(main, ["identity", "--sign", "981", "--json"], env=env)
    assert json.loads(as_json.output) == {"subject": "981",
                                          "signature": identity.sign(SECRET, "981")}
    blank = CliRunner().invoke(main, ["identity", "--sign", " "], env=env)
    assert blank.exit_code == 2 and "--sign" in blank.output


def _claim_from_script(script: str) -> dict[str, object]:
    """The object a printed Deskbell('identify', {...}); line passes."""
    start = script.index("Deskbell('identify', ") + len("Deskbell('identify', ")
    return json.loads(script[start:script.rindex(");")])


def _run(args: list[str], source: str) -> str:
    done = subprocess.run(args, input=source, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "DESKBELL_IDENTITY_SECRET": SECRET})
    assert done.returncode == 0, done.stderr
    return done.stdout


def _verified(claim: dict[str, object]) -> identity.Identity | None:
    assert SECRET not in json.dumps(claim)  # the page gets the signature, never the secret
    return identity.verify(SECRET, claim)


def test_the_python_snippet_signs_as_deskbell_checks() -> None:
    user = type("User", (), {"id": USER["id"], "name": USER["name"], "email": USER["email"]})
    scope: dict[str, object] = {"user": user}
    os.environ["DESKBELL_IDENTITY_SECRET"] = SECRET
    try:
        exec(SNIPPETS["Python"], scope)  # noqa: S102 (the printed snippet, run as pasted)
    finally:
        del os.environ["DESKBELL_IDENTITY_SECRET"]
    script = str(scope["script"])
    assert "<" not in script.split("Deskbell")[1]  # no value can end the page's script
    found = _verified(_claim_from_script(script))
    assert found is not None and found.user_id == "981"


def test_the_node_snippet_signs_as_deskbell_checks() -> None:
    if shutil.which("node") is None:
        unavailable("node is not installed")
    source = (f"const user = {json.dumps(USER)};\n{SNIPPETS['Node']}\n"
              "process.stdout.write(script);")
    script = _run(["node"], source)
    assert "<" not in script.split("Deskbell")[1]
    found = _verified(_claim_from_script(script))
    assert found is not None and found.user_id == "981"


def test_the_php_snippet_signs_as_deskbell_checks() -> None:
    if shutil.which("php") is None:
        unavailable("php is not installed (scripts/setup.sh --test installs it)")
    user = json.dumps(USER).replace("'", "\\'")
    source = (f"<?php $user = (object) json_decode('{user}', true); ?>\n"
              + SNIPPETS["PHP"].replace("<?php\n", "<?php\n", 1))
    page = _run(["php"], source)
    script = page[page.index("<script>") + 8:page.index("</script>")]
    assert "<" not in script
    found = _verified(_claim_from_script(script))
    assert found is not None and found.user_id == "981"
