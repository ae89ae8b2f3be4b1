"""`deskbell serve`, `deskbell demo` and `deskbell config` as an operator runs them: real
subprocesses on real loopback ports, started by the one launcher (benchmarks.common)."""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.common import DESKBELL, Server, live_server
from widget_server import resources
from widget_server.articles import load_kb
from widget_server.settings import SETTINGS, Setting

from .conftest import free_port

QUIET = {"semantic": "false"}  # words only: these servers are about starting, not ranking


def clean_environ() -> dict[str, str]:
    """This process's environment without any DESKBELL_* a developer may have exported."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DESKBELL_")}


def logged(server: Server) -> str:
    return "".join(server.log)


def refused(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.TransportError:
        return True
    return False


# ---------------------------------------------------------------- serve


def test_serve_builds_a_missing_index_then_answers_health_and_the_help_center(
        kb_dir: Path, tmp_path: Path) -> None:
    with live_server({"kb_dir": kb_dir, "data_dir": tmp_path / "data"}, cwd=tmp_path,
                     timeout=90) as server:
        health = httpx.get(f"{server.url}/healthz", timeout=10)
        page = httpx.get(f"{server.url}/kb/", timeout=10)
        found = httpx.get(f"{server.url}/api/v1/search", params={"q": "money back"}, timeout=30)
    assert "No search index yet; building it from the knowledge base first." in logged(server)
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["articles"] == 7  # the draft is never served
    assert body["index_generation"] == "gen-000001" and body["search"]["ranking"] == "hybrid"
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Reset your password" in page.text and "Refunds and returns" in page.text
    assert "Secret upcoming pricing plan" not in page.text
    assert found.json()["results"][0]["slug"] == "billing/refunds"


def test_serve_on_port_0_with_workers_twice_at_once(kb_dir: Path, tmp_path: Path) -> None:
    """--port 0 takes any free port (two servers at once get two), and --workers 2 starts two
    workers that stay up (an unset setting once reached them as 'None' and killed them)."""
    with live_server({**QUIET, "kb_dir": kb_dir, "data_dir": tmp_path / "a"}, workers=2,
                     cwd=tmp_path, timeout=90) as pair, \
            live_server({**QUIET, "kb_dir": kb_dir, "data_dir": tmp_path / "b"},
                        cwd=tmp_path, timeout=90) as single:
        assert pair.port != single.port
        deadline = time.monotonic() + 60
        while len(set(re.findall(r"Started server process \[(\d+)\]", logged(pair)))) < 2:
            assert pair.process.poll() is None and time.monotonic() < deadline, logged(pair)
            time.sleep(0.05)
        pages = [httpx.get(f"{s.url}/kb/", timeout=10) for s in (pair, single) for _ in range(4)]
        assert all(p.status_code == 200 and "Reset your password" in p.text for p in pages)
        assert "died" not in logged(pair) and "Traceback" not in logged(pair)


# ---------------------------------------------------------------- demo


def test_demo_serves_the_bundled_kb_with_a_host_page_on_another_origin_and_stops_on_ctrl_c(
        tmp_path: Path) -> None:
    kb = resources.bundled_kb_dir()
    assert kb is not None
    titles = [a.title for a in load_kb(kb).public()]
    # The demo binds the ports it is given (its host page names the server's URL before
    # anything is bound), so they are chosen free beforehand; another process taking one in
    # between ends the start with "address already in use", and the demo is started again.
    for _attempt in range(3):
        port, host_port = free_port(), free_port()
        if port == host_port:
            continue
        command = ["demo", "--port", str(port), "--host-port", str(host_port),
                   "--data-dir", str(tmp_path / "demo")]
        try:
            with live_server(command=command, port=port, cwd=tmp_path, timeout=120) as demo:
                base = f"http://127.0.0.1:{port}"
                shop = wait_for(f"http://localhost:{host_port}/", demo)
                health = httpx.get(f"{base}/healthz", timeout=10).json()
                index = httpx.get(f"{base}/kb/", timeout=10)
                loader = httpx.get(f"{base}/widget.js", timeout=10)
                admin = httpx.get(f"{base}/admin/", timeout=10)
                with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as browser:
                    form = browser.get("/admin/login").text
                    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
                    assert csrf, form
                    signed_in = browser.post("/admin/login", data={
                        "csrf": csrf[1], "password": "demo", "next": "/admin/"})
                demo.process.send_signal(signal.SIGINT)  # Ctrl-C, as the demo says
                demo.process.wait(timeout=30)
        except RuntimeError as exc:
            if "address already in use" in str(exc).lower():
                continue
            raise
        break
    else:
        pytest.fail("the demo found no free pair of ports in three attempts")
    assert signed_in.status_code == 200 and "Inbox" in signed_in.text  # one command, signed in
    output = logged(demo)
    assert f"Help center:  {base}/kb/" in output
    assert f"Demo site:    http://localhost:{host_port}/" in output
    assert f"Admin:        {base}/admin/  (password: demo)" in output
    assert health["articles"] == len(titles) > 30
    assert index.status_code == 200
    assert all(title in html.unescape(index.text) for title in titles)
    assert loader.status_code == 200 and "javascript" in loader.headers["content-type"]
    # The host page is another origin that embeds the loader, under a strict CSP.
    assert shop.status_code == 200 and f'src="{base}/widget.js"' in shop.text
    assert f"frame-src {base}" in shop.headers["content-security-policy"]
    # The admin is on (the demo sets a password): the inbox asks for a login.
    assert admin.status_code in (302, 303, 307) or "/admin/login" in str(admin.url)
    # Stopped cleanly: both servers closed their ports, no traceback, not killed.
    assert demo.process.returncode >= 0 and "Traceback" not in output
    assert refused(f"{base}/healthz") and refused(f"http://localhost:{host_port}/")
    assert (tmp_path / "demo" / "index").is_dir()  # the data folder asked for, not a temp one


def wait_for(url: str, server: Server) -> httpx.Response:
    """GET `url`, served by `server`'s process on a second port that may open a moment later."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=10)
        except httpx.TransportError:
            if server.process.poll() is not None:
                time.sleep(0.1)  # let the reader take the last lines
                raise RuntimeError(logged(server)) from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# ---------------------------------------------------------------- config


def config(cwd: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {**clean_environ(), **{f"DESKBELL_{k.upper()}": v for k, v in environ.items()}}
    return subprocess.run([str(DESKBELL), "config", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def row(output: str, name: str) -> str:
    """The value column of setting `name` in `deskbell config`'s table: name in 22 columns,
    then a value in 28 (the values checked here are shorter), then the help line."""
    found = [line for line in output.splitlines() if line[:23].rstrip() == name]
    assert len(found) == 1, f"no row for {name}:\n{output}"
    return found[0][23:51].strip()


CREDENTIAL = "Zq7-in-clear"


def secret_value(setting: Setting) -> str:
    """A value `setting` accepts that carries CREDENTIAL: a password, or one inside a URL."""
    for candidate in (f"{setting.name}-{CREDENTIAL}",
                      f"redis://:{CREDENTIAL}@127.0.0.1:6379/0",
                      f"postgresql://deskbell:{CREDENTIAL}@127.0.0.1:5432/deskbell"):
        try:
            setting.parse(candidate)
        except ValueError:
            continue
        return candidate
    raise AssertionError(f"no test value for the secret setting {setting.name}")


def test_config_shows_each_resolved_value_and_never_a_secret(tmp_path: Path) -> None:
    (tmp_path / "deskbell.toml").write_text('site_name = "Acme Help"\nport = 8100\n')
    secrets = {s.name: secret_value(s) for s in SETTINGS if s.secret}
    assert {"admin_password", "secret_key", "smtp_password"} <= set(secrets)
    # A database URL holds its password too.
    database = f"postgresql://deskbell:{CREDENTIAL}@127.0.0.1:5432/deskbell"
    shown = config(tmp_path, port="9000", semantic="false", ticket_store=database, **secrets)
    assert shown.returncode == 0, shown.stderr
    for setting in SETTINGS:
        row(shown.stdout, setting.name)  # every setting has its row
    assert row(shown.stdout, "site_name") == "Acme Help"  # from ./deskbell.toml
    assert row(shown.stdout, "port") == "9000"  # DESKBELL_PORT beats the file's 8100
    assert row(shown.stdout, "kb_dir") == "kb"  # the default
    assert {name: row(shown.stdout, name) for name in secrets} == dict.fromkeys(secrets, "(set)")
    leaked = [line for line in (shown.stdout + shown.stderr).splitlines() if CREDENTIAL in line]
    assert leaked == []
    assert "search ranks by words only: semantic search is turned off" in shown.stdout


def test_config_reads_the_file_it_is_given_and_shows_an_unset_secret_as_empty(
        tmp_path: Path) -> None:
    (tmp_path / "deskbell.toml").write_text('site_name = "Not this one"\n')
    (tmp_path / "other.toml").write_text('[deskbell]\nsite_name = "Other Help"\n')
    shown = config(tmp_path, "--config", "other.toml", semantic="false")
    assert shown.returncode == 0, shown.stderr
    assert row(shown.stdout, "site_name") == "Other Help"
    assert row(shown.stdout, "admin_password") == ""  # the admin is off, and says so
    missing = config(tmp_path, "--config", "nowhere.toml")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "Error: settings file not found: nowhere.toml"
