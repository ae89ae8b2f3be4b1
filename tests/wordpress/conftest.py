"""A real WordPress on loopback with the Deskbell plugin, a real Deskbell server, Chromium.

WordPress comes from two places, both set up by scripts/setup-wordpress.sh: Debian's
`wordpress` package (6.1, the oldest release here and the plugin's minimum) and the
@wp-playground/wordpress-builds npm package (release zips up to 6.5, the newest release here).
Every version runs on SQLite through the SQLite integration plugin, so no database server.
Each version is installed once per session into a temp folder: the plugin zip is built with
`deskbell wordpress-plugin`, WordPress is installed and the plugin activated by small PHP
scripts, and `php -S` serves it. Deskbell runs under uvicorn on another loopback port with
the fixture knowledge base indexed and every WordPress origin allowed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from click.testing import CliRunner
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from starlette.applications import Starlette

from cli.main import main as deskbell_cli
from tests.conftest import free_port, served, unavailable
from widget_server.app import create_app
from widget_server.search import reindex
from widget_server.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
FIXTURE_KB = REPO / "tests" / "data" / "kb"
BUILDS = Path(os.environ.get("WORDPRESS_BUILDS_CACHE", Path.home() / ".cache/deskbell/wordpress")) / "package"
DEBIAN_WORDPRESS = Path("/usr/share/wordpress")
# The oldest release here (Debian bookworm's 6.1.9), the oldest and newest in
# @wp-playground/wordpress-builds@0.9.19 (6.2.6, 6.5.5; its 6.6 is only a release candidate).
VERSIONS = ("6.1", "6.2", "6.5")
OWNER = ("owner", "owner-" + secrets.token_hex(8), "owner@example.com")
# The Deskbell server's identity_secret, which the owner pastes into the plugin's settings.
IDENTITY_SECRET = "wp-signs-its-users-" + secrets.token_hex(8)
PAGES = {
    "search": "[deskbell_search]",
    "block": '<!-- wp:deskbell/search {"limit":3} /-->',
    "article": '[deskbell_article slug="billing/refunds"]',
    "missing": '[deskbell_article slug="billing/no-such-article"]',
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Only tests that bring up WordPress are slow; the zip and lint checks are not.
    for item in items:
        if "wordpress" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.wordpress)


def missing(what: str) -> None:
    unavailable(f"{what} (run scripts/setup-wordpress.sh)")


def _wait_for(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="session")
def php() -> str:
    path = shutil.which("php")
    if path is None:
        missing("php is not installed")
    modules = subprocess.run([path, "-m"], capture_output=True, text=True, check=True).stdout
    if "pdo_sqlite" not in modules.split():
        missing("php has no pdo_sqlite")
    if not (BUILDS / "src" / "wordpress").is_dir():
        missing(f"WordPress builds are not unpacked in {BUILDS}")
    if not (DEBIAN_WORDPRESS / "wp-includes" / "version.php").is_file():
        missing(f"Debian's wordpress package is not installed ({DEBIAN_WORDPRESS})")
    return str(path)


@pytest.fixture(scope="session")
def wp_ports() -> dict[str, int]:
    """Ports chosen up front: Deskbell must know every WordPress origin it will be framed by."""
    return {version: free_port() for version in VERSIONS}


@dataclass
class Deskbell:
    url: str
    app: Starlette


@pytest.fixture(scope="session")
def deskbell(tmp_path_factory: pytest.TempPathFactory, wp_ports: dict[str, int]) -> Iterator[Deskbell]:
    base = tmp_path_factory.mktemp("deskbell")
    kb = base / "kb"
    shutil.copytree(FIXTURE_KB, kb)
    origins = ",".join(f"http://127.0.0.1:{port}" for port in wp_ports.values())
    settings = load_settings(
        overrides={"kb_dir": str(kb), "data_dir": str(base / "data"), "allowed_origins": origins,
                   "ticket_rate_limit": "100/minute", "api_rate_limit": "10000/minute",
                   "identity_secret": IDENTITY_SECRET},
        config_file=None, environ={},
    )
    reindex(kb, settings.index_dir)
    app = create_app(settings)
    with served(app) as url:
        yield Deskbell(url, app)


@pytest.fixture(scope="session")
def plugin_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin as users get it: built by the `deskbell wordpress-plugin` command."""
    target = tmp_path_factory.mktemp("plugin") / "deskbell.zip"
    result = CliRunner().invoke(deskbell_cli, ["wordpress-plugin", "-o", str(target)])
    assert result.exit_code == 0, result.output
    return target


@dataclass
class WordPress:
    version: str
    url: str
    root: Path
    php: str
    pages: dict[str, int] = field(default_factory=dict)

    def run_php(self, body: str, *, installing: bool = False) -> str:
        """Run PHP inside this WordPress (wp-load.php loaded) and return what it printed."""
        script = self.root / f"_deskbell_test_{secrets.token_hex(6)}.php"
        # Before wp_install, WP_INSTALLING stops wp-load.php redirecting to the installer.
        head = "define('WP_INSTALLING', true);\n" if installing else ""
        script.write_text("<?php\n" + head + "require __DIR__ . '/wp-load.php';\n" + body)
        try:
            done = subprocess.run([self.php, str(script)], cwd=self.root, capture_output=True,
                                  text=True, timeout=60)
        finally:
            script.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"PHP failed ({done.returncode}): {done.stdout}{done.stderr}")
        return done.stdout

    def configure(self, **values: Any) -> None:
        """Store plugin settings directly, as a saved settings form would."""
        payload = json.dumps(values)
        self.run_php(
            "update_option('deskbell_settings', array_merge(deskbell_defaults(), "
            f"json_decode({php_string(payload)}, true)));"
        )

    def page_url(self, name: str, **query: str) -> str:
        extra = "".join(f"&{k}={urllib.request.quote(v)}" for k, v in query.items())
        return f"{self.url}/?page_id={self.pages[name]}{extra}"

    def fetch(self, url: str) -> str:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read().decode()

    def debug_log(self) -> list[str]:
        log = self.root / "debug.log"
        return log.read_text().splitlines() if log.exists() else []


def php_string(text: str) -> str:
    """A PHP single-quoted literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _copy_wordpress(version: str, root: Path) -> None:
    if version == "6.1":
        # Debian's files, its links into /usr/share/javascript and php-getid3 resolved.
        shutil.copytree(DEBIAN_WORDPRESS, root, symlinks=False, dirs_exist_ok=True)
        (root / "wp-content" / "database").mkdir(exist_ok=True)
        return
    with zipfile.ZipFile(BUILDS / "src" / "wordpress" / f"wp-{version}.zip") as zf:
        zf.extractall(root)
    # The zips leave out static files; the package keeps them beside.
    shutil.copytree(BUILDS / "public" / f"wp-{version}", root, dirs_exist_ok=True)


def _unpack(version: str, root: Path, port: int, plugin_zip: Path) -> None:
    _copy_wordpress(version, root)
    plugins = root / "wp-content" / "plugins"
    unpacked = root.parent / f"sqlite-{version}"
    with zipfile.ZipFile(BUILDS / "src" / "sqlite-database-integration" /
                         "sqlite-database-integration.zip") as zf:
        zf.extractall(unpacked)
    # The static copy already holds part of this plugin: merge the whole plugin over it.
    sqlite = plugins / "sqlite-database-integration"
    shutil.copytree(unpacked / "sqlite-database-integration-main", sqlite, dirs_exist_ok=True)
    shutil.rmtree(unpacked)
    dropin = (sqlite / "db.copy").read_text()
    dropin = dropin.replace("{SQLITE_IMPLEMENTATION_FOLDER_PATH}", str(sqlite))
    dropin = dropin.replace("{SQLITE_PLUGIN}", "sqlite-database-integration/load.php")
    (root / "wp-content" / "db.php").write_text(dropin)
    (root / "wp-content" / "database" / ".ht.sqlite").unlink(missing_ok=True)
    (root / "wp-config.php").write_text(_wp_config(port))
    with zipfile.ZipFile(plugin_zip) as zf:
        zf.extractall(plugins)


def _wp_config(port: int) -> str:
    salts = "".join(
        f"define('{name}', '{secrets.token_hex(32)}');\n"
        for name in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
                     "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT")
    )
    home = f"http://127.0.0.1:{port}"
    return f"""<?php
define('DB_NAME', 'wordpress'); define('DB_USER', ''); define('DB_PASSWORD', '');
define('DB_HOST', ''); define('DB_CHARSET', 'utf8'); define('DB_COLLATE', '');
define('DB_DIR', __DIR__ . '/wp-content/database/'); define('DB_FILE', '.ht.sqlite');
{salts}$table_prefix = 'wp_';
define('WP_HOME', '{home}'); define('WP_SITEURL', '{home}');
define('AUTOMATIC_UPDATER_DISABLED', true); define('DISABLE_WP_CRON', true);
define('WP_HTTP_BLOCK_EXTERNAL', true); define('CONCATENATE_SCRIPTS', false);
define('WP_DEBUG', true); define('WP_DEBUG_DISPLAY', false);
define('WP_DEBUG_LOG', __DIR__ . '/debug.log');
if (!defined('ABSPATH')) {{ define('ABSPATH', __DIR__ . '/'); }}
require_once ABSPATH . 'wp-settings.php';
"""


INSTALL = """
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
wp_install('Deskbell Shop', {user}, {email}, true, '', {password});
$activated = activate_plugin('deskbell/deskbell.php');
if (is_wp_error($activated)) {{ fwrite(STDERR, $activated->get_error_message()); exit(1); }}
$ids = array();
foreach (json_decode({pages}, true) as $name => $content) {{
    $ids[$name] = wp_insert_post(array('post_type' => 'page', 'post_status' => 'publish',
        'post_title' => 'Help ' . $name, 'post_content' => $content), true);
}}
echo json_encode($ids);
"""


@pytest.fixture(scope="session", params=VERSIONS, ids=lambda v: f"wp-{v}")
def wordpress(request: pytest.FixtureRequest, php: str, wp_ports: dict[str, int],
              plugin_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WordPress]:
    version = request.param
    port = wp_ports[version]
    root = tmp_path_factory.mktemp(f"wp-{version}")
    _unpack(version, root, port, plugin_zip)
    site = WordPress(version, f"http://127.0.0.1:{port}", root, php)
    user, password, email = OWNER
    installed = site.run_php(INSTALL.format(
        user=php_string(user), email=php_string(email), password=php_string(password),
        pages=php_string(json.dumps(PAGES))), installing=True)
    site.pages = json.loads(installed.strip().splitlines()[-1])
    running = site.run_php("echo get_bloginfo('version');").strip()
    assert running.startswith(version + "."), f"expected WordPress {version}, found {running}"
    # Its own process group: php -S forks workers that outlive their parent otherwise.
    server = subprocess.Popen(
        [php, "-S", f"127.0.0.1:{port}", "-t", str(root)], cwd=root,
        env={**os.environ, "PHP_CLI_SERVER_WORKERS": "4"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        _wait_for(site.url + "/wp-login.php")
        yield site
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _loopback_only(route: Any) -> None:
    # Gravatar and other outside requests would hang on a closed network; nothing leaves.
    if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        route.abort()


@dataclass
class Tab:
    page: Any
    dialogs: list[str]


def new_tab(browser: Any, *, javascript: bool = True) -> Tab:
    context = browser.new_context(viewport={"width": 1280, "height": 800},
                                  java_script_enabled=javascript)
    context.set_default_timeout(10000)
    context.route("**/*", _loopback_only)
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return Tab(page, dialogs)


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    opened = new_tab(browser)
    yield opened
    opened.page.context.close()


@pytest.fixture
def no_js_tab(browser: Any) -> Iterator[Tab]:
    opened = new_tab(browser, javascript=False)
    yield opened
    opened.page.context.close()


def log_in(page: Any, wp: WordPress, to: str) -> None:
    """Log the owner in through the login form and land on the admin page `to`."""
    user, password, _ = OWNER
    page.goto(wp.url + "/wp-login.php?redirect_to=" + urllib.request.quote(wp.url + to, safe=""))
    # The login page runs a start-up timer that focuses the user field; a field filled before
    # it has run has been seen emptied again (3 runs in 38 here), and the browser then refuses
    # to send the form with a required field empty. Typing after it is what a person does.
    expect(page.locator("#user_login")).to_be_focused()
    target = f"**{to.split('?')[0]}*"
    for _ in range(3):
        page.locator("#user_login").fill(user)
        page.locator("#user_pass").fill(password)
        if page.locator("#user_pass").input_value() != password:
            continue
        try:
            with page.expect_navigation(url=target, wait_until="domcontentloaded", timeout=15000):
                page.locator("#user_pass").press("Enter")
            return
        except PlaywrightTimeout:
            if page.url.startswith(wp.url + "/wp-admin/"):
                return
    raise AssertionError(f"could not log in to WordPress {wp.version}; now on {page.url}")
