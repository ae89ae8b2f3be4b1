"""Widget weight and speed on a host page: compressed sizes, requests, launcher and panel times.

Sizes: loader.js, and the panel as a visitor downloads it (the rendered /embed document plus
panel.js and panel.css), gzip -9 and brotli q11. Baseline in the same run: the same bytes
uncompressed. In headless Chromium (/usr/bin/chromium via Playwright) a host page on another
origin loads the snippet; the benchmark counts the requests to Deskbell before any click,
the time from the loader's script executing to the launcher drawn, and from the click to the
panel's search box focused.
"""

from __future__ import annotations

import gzip
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.common import REPO, Figure, running_server
from benchmarks.corpus import ARDUINO, cache_root

WIDGET = REPO / "static" / "widget"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def _sizes(raw: bytes) -> tuple[float, float, float]:
    import brotli

    return len(raw) / 1024, len(gzip.compress(raw, 9)) / 1024, len(brotli.compress(raw, quality=11)) / 1024


def _fetch(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        body: bytes = response.read()
        return body


# The page notes when the frame after the launcher's element enters the DOM is painted (the
# browser draws the launcher then), and how many requests the widget has made by that moment.
HOST_PAGE = """<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>
<script>
window.bench = {{}};
new MutationObserver(function (records, observer) {{
  if (!document.querySelector('deskbell-widget')) return;
  observer.disconnect();
  requestAnimationFrame(function () {{
    bench.painted = performance.now();
    bench.requests = performance.getEntriesByType('resource')
      .filter(function (e) {{ return e.name.indexOf(':{port}/') > 0; }}).length;
  }});
}}).observe(document.documentElement, {{childList: true, subtree: true}});
</script>
<script async src="http://127.0.0.1:{port}/widget.js" data-site="default"></script>
</body></html>"""


@contextmanager
def _host_site(port: int) -> Iterator[str]:
    """The customer's page, served for real on localhost (another origin than 127.0.0.1:port).

    A real loopback server, not a Playwright route: Chromium refuses scripts from 127.0.0.1 to
    a page whose address it cannot place on the local network.
    """
    body = HOST_PAGE.format(port=port).encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/shop"
    finally:
        server.shutdown()
        server.server_close()


def _browser_round(port: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, _host_site(port) as host_url:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        try:
            page = browser.new_page()
            ours: list[str] = []
            page.on("request", lambda r: ours.append(r.url) if f":{port}/" in r.url else None)
            page.goto(host_url)
            button = page.locator("deskbell-widget button.b")
            button.wait_for(timeout=10_000)
            # The loader starts executing once widget.js has arrived (responseEnd).
            page.wait_for_function("window.bench && bench.painted !== undefined")
            timing = page.evaluate("""() => ({painted: bench.painted, requests: bench.requests,
                loaded: performance.getEntriesByType('resource')
                  .find(e => e.name.includes('/widget.js')).responseEnd})""")
            page.wait_for_timeout(300)  # the idle-time preload of the panel happens here
            before_click = len(ours)
            started = time.perf_counter()
            button.click()
            page.frame_locator("#deskbell-panel").locator("#q").wait_for()
            embed = next(f for f in page.frames if "/embed" in f.url)
            embed.wait_for_function("document.activeElement && document.activeElement.id === 'q'")
            panel_ms = (time.perf_counter() - started) * 1000
        finally:
            browser.close()
    return {"requests_until_launcher": timing["requests"], "requests_before_click": before_click,
            "launcher_ms": timing["painted"] - timing["loaded"], "panel_ms": panel_ms}


def _browser_rounds(port: int, repeats: int) -> list[dict[str, float]]:
    try:
        return [_browser_round(port) for _ in range(repeats)]
    except Exception as exc:  # a missing browser must not sink the rest of the suite
        print(f"widget: browser timings skipped: {str(exc).splitlines()[0]}")
        return []


def run(repeats: int, browser: bool = True) -> list[Figure]:
    loader = (WIDGET / "loader.js").read_bytes()
    with running_server(cache_root() / "data-arduino", ARDUINO) as server:
        embed = _fetch(server.port, "/embed?site=default&locale=en&mode=launcher")
        panel = embed + (WIDGET / "panel.js").read_bytes() + (WIDGET / "panel.css").read_bytes()
        rounds = _browser_rounds(server.port, repeats) if browser else []
    lraw, lgz, lbr = _sizes(loader)
    praw, pgz, pbr = _sizes(panel)
    figures = [
        Figure("widget", "loader.js gzip", "KB", [lgz], "raw", [lraw], "≤ 3").check(3),
        Figure("widget", "loader.js brotli", "KB", [lbr], "raw", [lraw]),
        Figure("widget", "panel (embed+js+css) gzip", "KB", [pgz], "raw", [praw], "≤ 15").check(15),
        Figure("widget", "panel (embed+js+css) brotli", "KB", [pbr], "raw", [praw]),
    ]
    if rounds:
        figures += [
            Figure("widget", "requests to Deskbell until launcher shown", "count",
                   [r["requests_until_launcher"] for r in rounds], target="1 (loader)"),
            Figure("widget", "requests before click (after idle preload)", "count",
                   [r["requests_before_click"] for r in rounds]),
            Figure("widget", "loader executes → launcher shown", "ms",
                   [r["launcher_ms"] for r in rounds], target="≤ 50").check(50),
            Figure("widget", "click → panel interactive", "ms", [r["panel_ms"] for r in rounds]),
        ]
    return figures


if __name__ == "__main__":
    from benchmarks.common import print_table

    print_table(run(2))
    print(Path(__file__).name, "done")
