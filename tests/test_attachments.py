"""Attachments: what a visitor and an agent may attach, how it is kept, served and erased."""

from __future__ import annotations

import errno
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.attachments import (
    AttachmentLimits,
    Attachments,
    Upload,
    clean_name,
    content_disposition,
    inspect,
)
from widget_server.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from widget_server.settings import Settings
from widget_server.tickets import SummaryQuery, TicketStore, add_reply, new_ticket
from widget_server.tickets import files as files_module

from .conftest import tmpfs

URL = "/api/v1/tickets"
PASSWORD = "correct horse battery"


def png(size: tuple[int, int] = (32, 24), color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (40, 30), "blue")
    exif = image.getexif()
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 12.34), 3: "W", 4: (0.0, 7.0, 39.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def form(**changes: Any) -> dict[str, Any]:
    body = {"name": "Ana Lima", "email": "ana@example.com", "subject": "Broken checkout",
            "message": "See the screenshot.", "elapsed_ms": 9000}
    body.update(changes)
    return body


def multipart(body: dict[str, Any], *files: tuple[str, bytes, str]) -> dict[str, Any]:
    """httpx arguments for a multipart message: the JSON part and the files."""
    return {"data": {"json": json.dumps(body)},
            "files": [("files", (name, data, kind)) for name, data, kind in files]}


@pytest.fixture
def api(make_settings) -> Iterator[TestClient]:
    settings = make_settings(ticket_rate_limit="100/minute", admin_password=PASSWORD,
                             attachment_max_bytes=200_000, attachment_ticket_bytes=500_000)
    with TestClient(create_app(settings)) as client:
        yield client


def opened(api: TestClient, *files: tuple[str, bytes, str]) -> dict[str, Any]:
    answer = api.post(URL, **multipart(form(), *files)) if files else api.post(URL, json=form())
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def blobs(settings: Settings) -> list[Path]:
    root = Path(settings.data_dir) / "attachments"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def app_settings(api: TestClient) -> Settings:
    settings: Settings = api.app.state.services.settings  # type: ignore[attr-defined]
    return settings


def store_of(api: TestClient) -> TicketStore:
    store: TicketStore = api.app.state.services.tickets  # type: ignore[attr-defined]
    return store


def login(api: TestClient) -> str:
    page = api.get("/admin/login")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    done = api.post("/admin/login", data={"csrf": csrf, "password": PASSWORD, "next": "/admin/"},
                    follow_redirects=False)
    assert done.status_code == 303
    inbox = api.get("/admin/")
    return inbox.text.split('name="csrf" value="')[1].split('"')[0]


# ---------------------------------------------------------------- the visitor


def test_a_visitor_opens_a_ticket_with_a_screenshot_and_downloads_it(api: TestClient) -> None:
    answer = opened(api, ("screen shot.png", png(), "image/png"))
    view = api.get(f"{URL}/{answer['reference']}", headers=bearer(answer["token"])).json()
    [shown] = view["thread"][0]["attachments"]
    assert shown["name"] == "screen shot.png" and shown["type"] == "image/png"
    assert shown["url"] == f"{URL}/{answer['reference']}/attachments/{shown['id']}"
    assert "sha256" not in shown
    got = api.get(shown["url"], headers=bearer(answer["token"]))
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert got.headers["content-disposition"].startswith("inline; filename=\"screen shot.png\"")
    assert Image.open(io.BytesIO(got.content)).size == (32, 24)
    [blob] = blobs(app_settings(api))
    assert blob.name == hashlib.sha256(got.content).hexdigest()
    assert blob.parent.name == blob.name[:2]
    assert blob.parent.parent == Path(app_settings(api).data_dir) / "attachments"


def test_a_visitor_reply_carries_files_and_the_json_api_still_works(api: TestClient) -> None:
    answer = opened(api)
    ref, token = answer["reference"], answer["token"]
    plain = api.post(f"{URL}/{ref}/messages", json={"body": "No files"}, headers=bearer(token))
    assert plain.status_code == 201 and "attachments" not in plain.json()
    sent = api.post(f"{URL}/{ref}/messages", headers=bearer(token),
                    **multipart({"body": "The log"}, ("app.log", b"line 1\nline 2\n", "x/y"),
                                ("invoice.pdf", b"%PDF-1.7\n%...", "application/pdf")))
    assert sent.status_code == 201, sent.text
    names = [(f["name"], f["type"]) for f in sent.json()["attachments"]]
    assert names == [("app.log", "text/plain"), ("invoice.pdf", "application/pdf")]
    pdf = api.get(sent.json()["attachments"][1]["url"], headers=bearer(token))
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    text = api.get(sent.json()["attachments"][0]["url"], headers=bearer(token))
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.headers["content-disposition"].startswith("attachment;")


def test_exif_and_gps_are_stripped_from_photos(api: TestClient) -> None:
    photo = jpeg_with_gps()
    assert b"CameraMaker" in photo
    answer = opened(api, ("IMG_0001.JPG", photo, "image/jpeg"))
    ticket = store_of(api).get(answer["reference"])
    assert ticket is not None
    [descriptor] = ticket["thread"][0]["attachments"]
    assert descriptor["type"] == "image/jpeg" and descriptor["name"] == "IMG_0001.JPG"
    [blob] = blobs(app_settings(api))
    kept = blob.read_bytes()
    assert b"CameraMaker" not in kept and b"Exif" not in kept
    assert not Image.open(io.BytesIO(kept)).getexif()
    assert descriptor["size"] == len(kept) and descriptor["sha256"] == blob.name


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04\x14\x00\x00\x00", b"\x7fELF\x02\x01\x01"])
def test_empty_and_unknown_files_are_refused_and_nothing_is_stored(api: TestClient,
                                                                   data: bytes) -> None:
    answer = api.post(URL, **multipart(form(), ("a.zip", data, "application/zip")))
    assert answer.status_code == (422 if not data else 415)
    if data:
        assert "PNG, JPEG, GIF or WebP images, PDF documents, or plain text" in \
            answer.json()["error"]["message"]
    assert list(store_of(api).iter_tickets()) == [] and blobs(app_settings(api)) == []


def test_an_oversized_file_is_413_and_nothing_is_stored(api: TestClient) -> None:
    big = b"a" * 200_001
    answer = api.post(URL, **multipart(form(), ("big.txt", big, "text/plain")))
    assert answer.status_code == 413
    assert list(store_of(api).iter_tickets()) == [] and blobs(app_settings(api)) == []


def test_the_limits_per_message_and_per_ticket_hold(api: TestClient) -> None:
    six = [(f"{i}.txt", f"file {i}".encode(), "text/plain") for i in range(6)]
    assert api.post(URL, **multipart(form(), *six)).status_code == 422
    answer = opened(api, ("a.txt", b"a" * 190_000, "text/plain"),
                    ("b.txt", b"b" * 190_000, "text/plain"))
    more = api.post(f"{URL}/{answer['reference']}/messages", headers=bearer(answer["token"]),
                    **multipart({"body": "more"}, ("c.txt", b"c" * 190_000, "text/plain")))
    assert more.status_code == 413 and "at most 500000 bytes" in more.json()["error"]["message"]
    ticket = store_of(api).get(answer["reference"])
    assert ticket is not None and len(ticket["thread"]) == 1
    assert len(blobs(app_settings(api))) == 2  # the refused file was removed again


def test_a_stranger_guessing_attachment_urls_gets_the_same_404(api: TestClient) -> None:
    mine = opened(api, ("mine.png", png(), "image/png"))
    theirs = opened(api, ("theirs.png", png(color="green"), "image/png"))
    my_file = api.get(f"{URL}/{mine['reference']}", headers=bearer(mine["token"])).json()
    their_file = api.get(f"{URL}/{theirs['reference']}", headers=bearer(theirs["token"])).json()
    my_id = my_file["thread"][0]["attachments"][0]["id"]
    their_id = their_file["thread"][0]["attachments"][0]["id"]
    misses = [
        (mine["reference"], their_id, mine["token"]),  # another ticket's file id
        (mine["reference"], "nope", mine["token"]),  # an id that does not exist
        (theirs["reference"], their_id, mine["token"]),  # the right file, the wrong token
        ("DB-0000-0000-0000", my_id, mine["token"]),  # no such ticket
    ]
    answers = [api.get(f"{URL}/{ref}/attachments/{fid}", headers=bearer(token))
               for ref, fid, token in misses]
    assert {a.status_code for a in answers} == {404}
    assert len({a.content for a in answers}) == 1
    assert api.get(f"{URL}/{mine['reference']}/attachments/{my_id}").status_code == 401


def test_files_of_internal_notes_are_never_the_visitors(api: TestClient) -> None:
    answer = opened(api)
    helpdesk = api.app.state.services.helpdesk  # type: ignore[attr-defined]
    with helpdesk.attachments.saving([Upload("secret.txt", b"internal")]) as saved:
        store_of(api).update(answer["reference"],
                             lambda t: add_reply(t, "note", "Note", "see file", None, saved))
    got = api.get(f"{URL}/{answer['reference']}/attachments/{saved[0]['id']}",
                  headers=bearer(answer["token"]))
    assert got.status_code == 404


# ---------------------------------------------------------------- the admin


def test_an_agent_sees_the_files_and_replies_with_one(api: TestClient) -> None:
    answer = opened(api, ("shot.png", png(), "image/png"))
    ref = answer["reference"]
    anonymous = api.get(f"/admin/tickets/{ref}/attachments/x", follow_redirects=False)
    assert anonymous.status_code == 303
    csrf = login(api)
    page = api.get(f"/admin/tickets/{ref}")
    ticket = store_of(api).get(ref)
    assert ticket is not None
    file_id = ticket["thread"][0]["attachments"][0]["id"]
    link = f"/admin/tickets/{ref}/attachments/{file_id}"
    assert link in page.text and "shot.png" in page.text
    assert 'enctype="multipart/form-data"' in page.text
    got = api.get(link)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert api.get(f"/admin/tickets/{ref}/attachments/nope").status_code == 404
    forged = api.post(f"/admin/tickets/{ref}/reply", data={"csrf": "x", "body": "hi"},
                      files=[("files", ("a.txt", b"a", "text/plain"))], follow_redirects=False)
    assert forged.status_code == 403
    sent = api.post(f"/admin/tickets/{ref}/reply",
                    data={"csrf": csrf, "body": "Here is the fix", "status": "pending"},
                    files=[("files", ("fix.pdf", b"%PDF-1.4 fix", "application/pdf"))],
                    follow_redirects=False)
    assert sent.status_code == 303, sent.text
    ticket = store_of(api).get(ref)
    assert ticket is not None
    reply = ticket["thread"][-1]
    assert reply["author"] == "agent" and reply["attachments"][0]["name"] == "fix.pdf"
    view = api.get(f"{URL}/{ref}", headers=bearer(answer["token"])).json()
    assert view["thread"][-1]["attachments"][0]["name"] == "fix.pdf"
    plain = api.post(f"/admin/tickets/{ref}/reply", data={"csrf": csrf, "body": "no file"},
                     follow_redirects=False)
    assert plain.status_code == 303


# ---------------------------------------------------------------- storage


def test_descriptors_survive_every_store(ticket_store: TicketStore, tmp_path: Path) -> None:
    files = Attachments(tmp_path, AttachmentLimits(10_000, 100_000, 5, 20))
    fields = {"name": "Ana", "email": "ana@example.com", "subject": "s", "message": "m",
              "page_url": "", "trail": {}, "locale": "en"}
    with files.saving([Upload("a.png", png()), Upload("b.txt", b"text")]) as saved:
        ticket, _ = new_ticket(fields, "", saved)
        ticket_store.add(ticket)
    with files.saving([Upload("c.pdf", b"%PDF-1.5")]) as more:
        ticket_store.update(ticket["reference"],
                            lambda t: add_reply(t, "agent", "Bo", "answer", None, more))
    back = ticket_store.get(ticket["reference"])
    assert back is not None
    assert back["thread"][0]["attachments"] == saved
    assert back["thread"][1]["attachments"] == more
    assert set(saved[0]) == {"id", "name", "type", "size", "sha256"}
    [row] = ticket_store.summaries(SummaryQuery()).items
    assert row["reference"] == ticket["reference"]
    assert [t["reference"] for t in ticket_store.iter_tickets()] == [ticket["reference"]]


def test_a_full_disk_is_507_and_nothing_is_stored(make_settings, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "1m") as disk:
        settings = make_settings(data_dir=str(disk), ticket_rate_limit="100/minute",
                                 attachment_max_bytes=2_000_000)
        with TestClient(create_app(settings)) as api:
            answer = api.post(URL, **multipart(form(), ("big.txt", b"x" * 1_500_000,
                                                        "text/plain")))
            assert answer.status_code == 507, answer.text
            assert "nothing was saved" in answer.json()["error"]["message"]
            assert list(store_of(api).iter_tickets()) == []
            assert blobs(settings) == []
            assert not [p for p in (disk / "attachments").rglob("*.tmp")]


def test_a_failed_ticket_write_leaves_no_file(api: TestClient,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The file is written first; when the ticket cannot be, the file goes again."""
    answer = opened(api)

    def full(path: Path, data: bytes | str, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files_module, "write_atomic", full)  # the ticket store's writes only
    sent = api.post(f"{URL}/{answer['reference']}/messages", headers=bearer(answer["token"]),
                    **multipart({"body": "b"}, ("n.txt", b"note", "text/plain")))
    assert sent.status_code == 507
    assert blobs(app_settings(api)) == []


def test_the_same_file_twice_is_stored_once(api: TestClient) -> None:
    opened(api, ("a.png", png(), "image/png"))
    opened(api, ("b.png", png(), "image/png"))
    assert len(blobs(app_settings(api))) == 1


# ---------------------------------------------------------------- names and types


@pytest.mark.parametrize(("raw", "kind", "shown"), [
    ("../../etc/passwd", "text/plain", "passwd.txt"),
    ("C:\\Users\\ana\\report.pdf", "application/pdf", "report.pdf"),
    ("invoice\u202efdp.exe", "text/plain", "invoicefdp.exe.txt"),
    ("evil.html", "text/plain", "evil.html.txt"),
    ("photo.gif", "image/png", "photo.gif.png"),
    ("tab\tand\nnewline.png", "image/png", "tabandnewline.png"),
    ("...", "text/plain", "file.txt"),
    ("x" * 500 + ".pdf", "application/pdf", "x" * 116 + ".pdf"),
])
def test_file_names_are_cleaned(raw: str, kind: str, shown: str) -> None:
    assert clean_name(raw, kind) == shown


def test_content_disposition_escapes_the_name() -> None:
    header = content_disposition({"name": 'a"b;%c ü.pdf', "type": "application/pdf"})
    assert header == ("attachment; filename=\"ab__c _.pdf\"; "
                      "filename*=UTF-8''ab%3B%25c%20%C3%BC.pdf")


def test_type_is_decided_by_the_bytes() -> None:
    assert inspect(Upload("x.pdf", png())).type == "image/png"
    assert inspect(Upload("x.png", b"just words")).type == "text/plain"
    with pytest.raises(UnsupportedMediaType):
        inspect(Upload("x.png", b"\x89PNG\r\n\x1a\nnot really a png"))
    with pytest.raises(ValidationFailed):
        Attachments("/nonexistent", AttachmentLimits(10, 10, 1, 1)).check_message(
            [Upload("a", b"1"), Upload("b", b"2")])
    with pytest.raises(PayloadTooLarge):
        Attachments("/nonexistent", AttachmentLimits(10, 10, 1, 1)).check_message(
            [Upload("a", b"12345678901")])


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")  # 100 megapixels in a few kilobytes
    assert len(out.getvalue()) < 100_000
    with pytest.raises(PayloadTooLarge):
        inspect(Upload("bomb.png", out.getvalue()))


# ---------------------------------------------------------------- erasure and export


def test_erase_removes_the_persons_files_but_not_shared_ones(make_settings) -> None:
    from click.testing import CliRunner

    from cli.main import main

    settings = make_settings(ticket_rate_limit="100/minute")
    with TestClient(create_app(settings)) as api:
        opened(api, ("only-ana.txt", b"ana's file", "text/plain"),
               ("shared.png", png(), "image/png"))
        other = api.post(URL, **multipart(form(email="bo@example.com"),
                                          ("shared.png", png(), "image/png")))
        assert other.status_code == 201
    assert len(blobs(settings)) == 2
    options = ["--data-dir", str(settings.data_dir)]
    out = Path(settings.data_dir).parent / "tickets.json"
    exported = CliRunner().invoke(main, ["export", "tickets", "--format", "json", "-o", str(out),
                                         *options])
    assert exported.exit_code == 0, exported.output
    rows = json.loads(out.read_text(encoding="utf-8"))
    names = [[f["name"] for f in e.get("attachments", [])] for t in rows for e in t["thread"]]
    assert names == [["only-ana.txt", "shared.png"], ["shared.png"]]
    erased = CliRunner().invoke(main, ["erase", "--email", "ana@example.com", "--yes", *options])
    assert erased.exit_code == 0, erased.output
    [left] = blobs(settings)
    assert left.read_bytes().startswith(b"\x89PNG")  # bo's ticket still holds the image
