"""Shared fixtures: a copy of the fixture knowledge base, settings over tmp_path, an indexed app."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.search import reindex
from widget_server.settings import Settings, load_settings

DATA = Path(__file__).parent / "data"
FIXTURE_KB = DATA / "kb"
REPO = Path(__file__).parent.parent


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    """A private, writable copy of tests/data/kb."""
    target = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, target)
    return target


@pytest.fixture
def make_settings(tmp_path: Path, kb_dir: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values = {"kb_dir": str(kb_dir), "data_dir": str(tmp_path / "data"), **overrides}
        return load_settings(overrides=values, config_file=None, environ={})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def indexed(settings: Settings) -> Settings:
    reindex(Path(settings.kb_dir), settings.index_dir)
    return settings


@pytest.fixture
def client(indexed: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(indexed)) as test_client:
        yield test_client
