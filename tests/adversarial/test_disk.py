"""A real disk that fills up or turns read-only under a running server (a tmpfs, so the errors
come from the kernel): visitors get a clear 507/503, nothing stored earlier is lost, and the
server carries on once the disk is back."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.search import reindex

from ..conftest import tmpfs
from .conftest import GOOD_TICKET, OPEN_LIMITS


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "8m") as mount_point:
        yield mount_point


def remount(point: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(point)], check=True)


def fill(point: Path) -> Path:
    filler = point / "filler"
    try:
        with filler.open("wb") as fh:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
    except OSError as exc:  # the disk may already be full before the first block
        assert exc.errno == errno.ENOSPC
    return filler


def test_full_then_read_only_disk_at_runtime(disk: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(data_dir=str(disk / "data"), **OPEN_LIMITS)
    reindex(Path(settings.kb_dir), settings.index_dir)
    with TestClient(create_app(settings)) as client:
        first = client.post("/api/v1/tickets", json=GOOD_TICKET).json()
        mine = {"authorization": "Bearer " + first["token"]}

        filler = fill(disk)
        full = client.post("/api/v1/tickets", json=GOOD_TICKET)
        assert full.status_code == 507
        assert "disk" in full.json()["error"]["message"] and str(disk) not in full.text
        events = client.post("/api/v1/events", json={"session": "s_" + "c" * 22,
                                                     "events": [{"type": "contact_open"}]})
        assert events.status_code in {202, 507}  # a small event may still fit in a free block
        assert client.get(f"/api/v1/tickets/{first['reference']}", headers=mine).status_code == 200
        assert client.get("/api/v1/search", params={"q": "password"}).status_code == 200
        filler.unlink(missing_ok=True)

        remount(disk, "ro")
        try:
            refused = client.post("/api/v1/tickets", json=GOOD_TICKET)
            assert refused.status_code == 503
            assert "nothing was saved" in refused.json()["error"]["message"]
            assert client.get(f"/api/v1/tickets/{first['reference']}",
                              headers=mine).status_code == 200
            assert client.get("/kb/search", params={"q": "password"}).status_code == 200
        finally:
            remount(disk, "rw")
        assert client.post("/api/v1/tickets", json=GOOD_TICKET).status_code == 201
        assert client.app.state.services.tickets.count() == 2  # type: ignore[attr-defined]


def test_a_read_only_data_dir_at_start_serves_reads(disk: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(data_dir=str(disk / "data"), **OPEN_LIMITS)
    reindex(Path(settings.kb_dir), settings.index_dir)
    with TestClient(create_app(settings)) as client:
        created = client.post("/api/v1/tickets", json=GOOD_TICKET).json()
    remount(disk, "ro")
    try:
        with TestClient(create_app(settings)) as client:
            assert client.get("/api/v1/search", params={"q": "password"}).status_code == 200
            shown = client.get(f"/api/v1/tickets/{created['reference']}",
                               headers={"authorization": "Bearer " + created["token"]})
            assert shown.status_code == 200
            assert client.post("/api/v1/tickets", json=GOOD_TICKET).status_code == 503
    finally:
        remount(disk, "rw")
