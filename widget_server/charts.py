"""Server-side SVG charts for the insights page: no script, no CDN, no inline style.

Colours and sizes are SVG presentation attributes (fill=, stroke=), which a strict CSP allows,
and every text that came from data is escaped. Each chart is an <svg role="img"> with a title
and a one-line description, so a screen reader hears what a sighted person sees at a glance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 26, 12, 34
INK, MUTED, GRID = "#1f2933", "#52606d", "#d9e2ec"
PRIMARY, SECOND, WARN = "#2563eb", "#0f766e", "#b45309"


def count_max(value: float) -> int:
    """The top of a scale of counts: four whole steps of 1, 2 or 5 times a power of ten, the
    smallest that reaches `value` (at least 4), so no gridline reads "2.5 tickets"."""
    power = 1
    while True:
        for step in (power, 2 * power, 5 * power):
            if 4 * step >= value:
                return 4 * step
        power *= 10


def _svg(title: str, desc: str, body: list[str], height: int = HEIGHT) -> Markup:
    head = (f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
            f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" '
            f'font-size="11"><title>{escape(title)}</title><desc>{escape(desc)}</desc>')
    return Markup(head + "".join(body) + "</svg>")


def _y_axis(top_value: float, plot_h: float, suffix: str = "") -> list[str]:
    out = []
    for i in range(5):
        value = top_value * i / 4
        y = TOP + plot_h - plot_h * i / 4
        label = f"{value:g}{suffix}" if value == int(value) else f"{value:.1f}{suffix}"
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="{GRID}" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                   f'fill="{MUTED}">{escape(label)}</text>')
    return out


def _x_labels(labels: Sequence[str], xs: Sequence[float], plot_bottom: float) -> list[str]:
    step = max(1, math.ceil(len(labels) / 10))  # at most ~10 labels so they never overlap
    return [f'<text x="{x:.1f}" y="{plot_bottom + 16:.1f}" text-anchor="middle" '
            f'fill="{MUTED}">{escape(label)}</text>'
            for i, (label, x) in enumerate(zip(labels, xs, strict=True)) if i % step == 0]


def bar_chart(points: Sequence[tuple[str, float]], title: str, unit: str = "",
              colour: str = PRIMARY) -> Markup:
    """Vertical bars, one per point (e.g. tickets per day); each bar has a hover title."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = count_max(max((v for _, v in points), default=0))
    slot = plot_w / max(1, len(points))
    body = _y_axis(top, plot_h)
    xs = []
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top
        x = LEFT + i * slot + slot * 0.15
        xs.append(x + slot * 0.35)
        body.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{h:.1f}" fill="{colour}"><title>{escape(label)}: {value:g}'
                    f'{escape(unit)}</title></rect>')
    body += _x_labels([label for label, _ in points], xs, TOP + plot_h)
    total = sum(v for _, v in points)
    desc = f"{len(points)} bars, total {total:g}{unit}, highest {top:g}{unit} scale."
    return _svg(title, desc, body)


def line_chart(points: Sequence[tuple[str, float | None]], title: str) -> Markup:
    """A 0-100% line (e.g. self-service rate per day); days without data break the line."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(points) - 1)
    xs = [LEFT + i * step for i in range(len(points))]
    body = _y_axis(100, plot_h, "%")
    runs: list[list[str]] = [[]]
    for x, (label, value) in zip(xs, points, strict=True):
        if value is None:
            runs.append([])
            continue
        y = TOP + plot_h - plot_h * value
        runs[-1].append(f"{x:.1f},{y:.1f}")
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{SECOND}">'
                    f'<title>{escape(label)}: {100 * value:.0f}%</title></circle>')
    body += [f'<polyline points="{" ".join(run)}" fill="none" stroke="{SECOND}" '
             f'stroke-width="2"/>' for run in runs if len(run) > 1]
    body += _x_labels([label for label, _ in points], xs, TOP + plot_h)
    known = [v for _, v in points if v is not None]
    desc = (f"Mean {100 * sum(known) / len(known):.0f}% over {len(known)} days with data."
            if known else "No data in this range.")
    return _svg(title, desc, body)


def grouped_bars(groups: Sequence[str], series: Sequence[tuple[str, Sequence[int], str]],
                 title: str) -> Markup:
    """Side-by-side bars per group (e.g. how many tickets got a first reply within each band)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM - 18
    top = count_max(max((v for _, values, _ in series for v in values), default=0))
    slot = plot_w / max(1, len(groups))
    bar_w = slot * 0.8 / max(1, len(series))
    body = _y_axis(top, plot_h)
    for s, (name, values, colour) in enumerate(series):
        for g, value in enumerate(values):
            h = plot_h * value / top
            x = LEFT + g * slot + slot * 0.1 + s * bar_w
            body.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                        f'height="{h:.1f}" fill="{colour}"><title>{escape(name)}, '
                        f'{escape(groups[g])}: {value}</title></rect>')
        lx = LEFT + s * 170
        body.append(f'<rect x="{lx}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>'
                    f'<text x="{lx + 14}" y="{HEIGHT - 5}" fill="{INK}">{escape(name)}</text>')
    xs = [LEFT + g * slot + slot / 2 for g in range(len(groups))]
    body += _x_labels(groups, xs, TOP + plot_h)
    desc = "; ".join(f"{name}: " + ", ".join(f"{g} {v}" for g, v in zip(groups, values,
                                                                          strict=True))
                     for name, values, _ in series)
    return _svg(title, desc, body)


def hbar_chart(points: Sequence[tuple[str, int]], title: str, colour: str = WARN) -> Markup:
    """Horizontal bars with their labels (e.g. top searches), longest first."""
    row, label_w = 22, 190
    height = TOP + row * max(1, len(points)) + 8
    top = max((v for _, v in points), default=0) or 1
    plot_w = WIDTH - label_w - RIGHT - 40
    body = []
    for i, (label, value) in enumerate(points):
        y = TOP + i * row
        w = plot_w * value / top
        short = label if len(label) <= 30 else label[:29] + "\u2026"
        body.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end" fill="{INK}">'
                    f'{escape(short)}</text>')
        body.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
                    f'fill="{colour}"><title>{escape(label)}: {value}</title></rect>')
        body.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" fill="{MUTED}">{value}</text>')
    if not points:
        body.append(f'<text x="{LEFT}" y="{TOP + 14}" fill="{MUTED}">No searches yet.</text>')
    desc = ", ".join(f"{label} {value}" for label, value in points) or "No data."
    return _svg(title, desc, body, height)


__all__ = ["bar_chart", "count_max", "grouped_bars", "hbar_chart", "line_chart"]
