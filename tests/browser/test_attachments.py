"""A visitor attaches a file in the real panel; the agent sees it in the admin and opens it."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from .conftest import (
    FIXTURE_KB,
    HostPages,
    HostSite,
    LiveServer,
    _serve_kb,
    admin_logged_in,
)

pytestmark = pytest.mark.browser
PASSWORD = "attachments password"


@pytest.fixture(scope="module")
def files_server(tmp_path_factory: pytest.TempPathFactory,
                 host_pages: HostPages) -> Iterator[LiveServer]:
    yield from _serve_kb(FIXTURE_KB, tmp_path_factory.mktemp("attachments"), host_pages,
                         admin_password=PASSWORD)


def screenshot() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(out, "PNG")
    return out.getvalue()


def test_a_visitor_attaches_a_file_and_the_agent_opens_it(
        page: Any, browser: Any, host_pages: HostPages, files_server: LiveServer,
        artifacts: Callable[[str], str]) -> None:
    host_pages.pages.clear()
    shop = HostSite(files_server, host_pages)
    page.goto(shop.add("/cart", "<h1>Cart</h1>" + shop.snippet(mode="ask-first")))
    page.get_by_role("button", name="Help").click()
    frame = page.frame_locator("#deskbell-panel")
    frame.get_by_label("Name").fill("Grace Hopper")
    frame.get_by_label("Email").fill("grace@example.com")
    frame.get_by_label("Subject").fill("Checkout button does nothing")
    frame.get_by_label("Message").press_sequentially("Screenshot attached.", delay=40)
    picker = frame.get_by_label("Attach files (images, PDF, text)")
    picker.set_input_files([
        {"name": "screen.png", "mimeType": "image/png", "buffer": screenshot()},
        {"name": "wrong.txt", "mimeType": "text/plain", "buffer": b"not this one"}])
    frame.get_by_role("button", name="Remove wrong.txt").click()
    expect(frame.locator(".files li")).to_have_count(1)
    expect(picker).to_be_focused()  # the keyboard stays in the form
    page.screenshot(path=artifacts("attachments-contact.png"))
    frame.get_by_role("button", name="Send request").click()
    expect(frame.locator("#ref")).to_be_visible()
    reference = frame.locator("#ref").inner_text()

    # The visitor's own view lists the file as a download.
    frame.get_by_role("button", name="Your requests").first.click()
    frame.get_by_role("button", name=f"Checkout button does nothing ({reference})").click()
    link = frame.get_by_role("link", name="screen.png")
    expect(link).to_be_visible()
    with page.expect_download() as got:
        link.click()
    assert got.value.suggested_filename == "screen.png"

    ticket = files_server.app.state.services.tickets.get(reference)
    [attached] = ticket["thread"][0]["attachments"]
    assert attached["name"] == "screen.png" and attached["type"] == "image/png"

    context, admin, console = admin_logged_in(
        browser, f"{files_server.url}/admin/tickets/{reference}", PASSWORD)
    file_link = admin.get_by_role("link", name="screen.png")
    href = file_link.get_attribute("href")
    assert href == f"/admin/tickets/{reference}/attachments/{attached['id']}"
    answer = admin.request.get(files_server.url + href)
    assert answer.status == 200 and answer.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(answer.body())).size == (64, 48)
    assert not [m for m in console if "Content Security Policy" in m]
    assert not page.console_log.csp_violations()
    context.close()
