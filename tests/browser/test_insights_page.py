"""The insights page in real Chromium over real uvicorn: a seeded month, readable at a glance."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, FIXTURE_KB, admin_logged_in
from tests.conftest import served
from tests.insights_seed import seed
from widget_server.app import create_app
from widget_server.settings import load_settings

PASSWORD = "insights page password"
NOW = datetime(2026, 3, 29, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def insights_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("insights")
    shutil.copytree(FIXTURE_KB, base / "kb")
    seed(base / "data", NOW, days=35, per_day=10)
    settings = load_settings(overrides={
        "kb_dir": str(base / "kb"), "data_dir": str(base / "data"),
        "admin_password": PASSWORD, "events_retention_days": 3650}, config_file=None, environ={})
    app = create_app(settings)
    with served(app) as url:
        yield url


def test_an_admin_sees_spikes_figures_and_charts_without_csp_errors(
        browser: Any, insights_server: str) -> None:
    context, page, console = admin_logged_in(
        browser, f"{insights_server}/admin/insights?since=2026-03-01&until=2026-03-28",
        PASSWORD, viewport={"width": 1100, "height": 900})
    spikes = page.get_by_role("region", name="Spikes")
    assert spikes.is_visible()
    assert "Billing tickets" in spikes.inner_text()
    assert page.locator("svg.chart").count() == 5
    funnel = page.get_by_role("region", name="Self-service, step by step")
    assert "Confirmed self-service" in funnel.inner_text()
    assert funnel.get_by_role("img", name="Help sessions at each step").is_visible()
    box = page.locator("svg.chart").first.bounding_box()
    assert box is not None and box["width"] > 500  # the chart fills its column
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "insights-top.png"))  # what the admin sees first
    page.screenshot(path=str(ARTIFACTS / "insights.png"), full_page=True)
    assert not [m for m in console if "Content Security Policy" in m]
    context.close()
