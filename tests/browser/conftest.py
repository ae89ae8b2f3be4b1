"""Fixtures for the widget's real-browser tests.

One real Deskbell server (uvicorn on a free loopback port, a temp data dir, the fixture
knowledge base indexed with Whoosh) and one Chromium for the whole session; a fresh browser
context per test. A second server, started only by the tests that ask for it, serves the demo
knowledge base (Deskbell's own user guide), where questions in a visitor's words have answers. Host pages come from a second tiny HTTP server on another origin
(http://localhost:<port>, while Deskbell is http://127.0.0.1:<port>), so every test crosses
origins as a customer's site does. Both are loopback on purpose: Chromium's local-network
rules would block a public-looking page (a faked origin) from loading scripts off loopback.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from tests.conftest import served
from widget_server.app import create_app
from widget_server.articles import LocaleOptions
from widget_server.search import reindex
from widget_server.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
FIXTURE_KB = REPO / "tests" / "data" / "kb"
DEMO_KB = REPO / "kb"
ARTIFACTS = REPO / "test-artifacts"
IDENTITY_SECRET = "the-shop-signs-its-customers-with-this"  # live_server's identity_secret
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
playwright_api = pytest.importorskip("playwright.sync_api")
# Generous waits: other test suites may share these two cores. Waits end as soon as the
# condition holds, so this only changes how long a real failure takes to report.
playwright_api.expect.set_options(timeout=15_000)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    url: str
    app: Starlette
    data_dir: Path


def _serve_kb(source: Path, base: Path, host_pages: HostPages,
              **overrides: Any) -> Iterator[LiveServer]:
    kb = base / "kb"
    shutil.copytree(source, kb)
    settings = load_settings(
        overrides={"kb_dir": str(kb), "data_dir": str(base / "data"),
                   "allowed_origins": f"http://localhost:{host_pages.server_address[1]}",
                   "ticket_rate_limit": "100/minute",
                   "api_rate_limit": "10000/minute", **overrides},
        config_file=None, environ={},
    )
    reindex(kb, settings.index_dir, locales=LocaleOptions.from_settings(settings))
    app = create_app(settings)
    with served(app) as url:
        yield LiveServer(url, app, base / "data")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory,
                host_pages: HostPages) -> Iterator[LiveServer]:
    yield from _serve_kb(FIXTURE_KB, tmp_path_factory.mktemp("deskbell"), host_pages,
                         identity_secret=IDENTITY_SECRET)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory,
                host_pages: HostPages) -> Iterator[LiveServer]:
    yield from _serve_kb(DEMO_KB, tmp_path_factory.mktemp("deskbell-demo"), host_pages)


@pytest.fixture(scope="session")
def nps_server(tmp_path_factory: pytest.TempPathFactory,
               host_pages: HostPages) -> Iterator[LiveServer]:
    """The fixture knowledge base on a server that also asks the NPS question."""
    yield from _serve_kb(FIXTURE_KB, tmp_path_factory.mktemp("deskbell-nps"), host_pages,
                         nps_enabled="true")


class HostPages(ThreadingHTTPServer):
    """The customer's site: serves whatever pages the current test registered."""

    daemon_threads = True
    pages: dict[str, tuple[str, dict[str, str]]]


class _HostHandler(BaseHTTPRequestHandler):
    server: HostPages

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        found = self.server.pages.get(self.path.split("?")[0])
        body, headers = found if found else ("not found", {})
        data = body.encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep test output quiet


@pytest.fixture(scope="session")
def host_pages() -> Iterator[HostPages]:
    server = HostPages(("127.0.0.1", 0), _HostHandler)
    server.pages = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@dataclass
class HostSite:
    """Pages on the host origin for one test: HTML bodies plus optional response headers."""

    server: LiveServer
    hosting: HostPages

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.hosting.server_address[1]}"

    def snippet(self, **data: str) -> str:
        attrs = "".join(f' data-{k}="{v}"' for k, v in {"site": "default", **data}.items())
        return f'<script async src="{self.server.url}/widget.js"{attrs}></script>'

    def add(self, path: str, body: str, *, lang: str = "en", head: str = "",
            headers: dict[str, str] | None = None) -> str:
        html = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
                f"<title>Shop</title>{head}</head><body>{body}</body></html>")
        self.hosting.pages[path] = (html, headers or {})
        return self.origin + path


@pytest.fixture
def context(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15000)
    yield ctx
    ctx.close()


@pytest.fixture
def shop(host_pages: HostPages, live_server: LiveServer) -> HostSite:
    host_pages.pages.clear()
    return HostSite(live_server, host_pages)


@pytest.fixture
def demo_shop(host_pages: HostPages, demo_server: LiveServer) -> HostSite:
    """The customer's site embedding the server of the demo knowledge base."""
    host_pages.pages.clear()
    return HostSite(demo_server, host_pages)


@pytest.fixture
def nps_shop(host_pages: HostPages, nps_server: LiveServer) -> HostSite:
    """The customer's site embedding a server with `nps_enabled` on."""
    host_pages.pages.clear()
    return HostSite(nps_server, host_pages)


@dataclass
class Console:
    messages: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m]


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    tab = context.new_page()
    console = Console()
    tab.on("console", lambda msg: console.messages.append(msg.text))
    tab.on("pageerror", lambda exc: console.messages.append(f"pageerror: {exc}"))
    if os.environ.get("WIDGET_TEST_CONSOLE"):  # debugging aid: log traffic, print at the end
        tab.on("request", lambda r: console.messages.append(f"sent {r.url}"))
        tab.on("requestfinished", lambda r: console.messages.append(f"done {r.url}"))
        tab.on("requestfailed", lambda r: console.messages.append(f"failed {r.url} {r.failure}"))
    tab.console_log = console  # tests read tab.console_log.csp_violations()
    yield tab
    if os.environ.get("WIDGET_TEST_CONSOLE"):
        print("\n".join(console.messages))
    tab.close()
    # Whatever a test checked, an uncaught error in the loader or the panel is a failure.
    assert [m for m in console.messages if m.startswith("pageerror")] == []


@pytest.fixture
def artifacts() -> Callable[[str], str]:
    ARTIFACTS.mkdir(exist_ok=True)
    return lambda name: str(ARTIFACTS / name)


def launcher(page: Any) -> Any:
    return page.locator("deskbell-widget button.b")


def panel(page: Any) -> Any:
    return page.frame_locator("#deskbell-panel")


def search_finished(frame: Any) -> None:
    """Wait for the full search after the last keystroke: until it lands (with its answer card
    above the list), the list may move under a click or a tap."""
    playwright_api.expect(frame.locator("#count")).not_to_be_empty()
    playwright_api.expect(frame.locator("#results")).not_to_have_attribute("aria-busy", "true")


def open_widget(page: Any, url: str) -> Any:
    page.goto(url)
    launcher(page).click()
    frame = panel(page)
    frame.locator("#q").wait_for()
    playwright_api.expect(frame.locator("#q")).to_be_focused()
    embed = next(f for f in page.frames if "/embed" in f.url)
    # Not only the active element: the panel's document must hold the keyboard focus.
    embed.wait_for_function("document.hasFocus()")
    return frame


def admin_logged_in(browser: Any, url: str, password: str,
                    **context_options: Any) -> tuple[Any, Any, list[str]]:
    """A new context whose page opened the admin `url`, logged in with `password` and is back
    on `url`: (context, page, console messages so far and to come). Close the context."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(url)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda current: current == url)
    return context, page, console

