"""The insights charts count in whole steps: no gridline of a tickets chart reads 2.5."""

from __future__ import annotations

import re

import pytest

from widget_server.charts import bar_chart, count_max, grouped_bars


@pytest.mark.parametrize(("highest", "top"), [
    (0, 4), (1, 4), (4, 4), (5, 8), (7, 8), (9, 20), (21, 40), (40, 40), (41, 80),
    (199, 200), (201, 400), (1234, 2000)])
def test_a_count_scale_is_four_whole_steps(highest: int, top: int) -> None:
    assert count_max(highest) == top
    assert top % 4 == 0 and top >= highest


def gridlines(svg: str) -> list[str]:
    return re.findall(r'text-anchor="end" fill="#52606d">([^<]+)</text>', svg)


def test_an_empty_tickets_chart_has_whole_gridlines() -> None:
    empty = bar_chart([("Mar 01", 0), ("Mar 02", 0)], "Tickets per day", " tickets")
    assert gridlines(empty) == ["0", "1", "2", "3", "4"]
    busy = bar_chart([("Mar 01", 3), ("Mar 02", 13)], "Tickets per day", " tickets")
    assert gridlines(busy) == ["0", "5", "10", "15", "20"]
    bands = grouped_bars(["< 1h", "1-4h"], [("First response", [0, 6], "#000")], "Waits")
    assert gridlines(bands) == ["0", "2", "4", "6", "8"]
