"""Charts as inline SVG rendered on the server: no script, nothing fetched, CSP-friendly.

Only presentation attributes (fill, x, y...) are used, never style attributes, which the
Content-Security-Policy (style-src 'self') would block. Each mark has a <title>: browsers show
it as a tooltip, screen readers read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 1000  # viewBox units; a full-width card is about 1150 px wide
TOPIC_COLORS = {
    "violence": "#7b61a8",
    "trafficking": "#c9733f",
    "labor": "#3f8a8c",
    "": "#aeb4bf",
}
MISSED_COLOR = "#e0a458"
ABANDONED_COLOR = "#b4534b"
EMPTY_CELL = "#f1f3f5"


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    values: Sequence[int]


def nice_max(value: float) -> int:
    """The smallest 1, 2 or 5 x 10^k at or above value (an axis top that reads well)."""
    if value <= 0:
        return 1
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def _svg(height: int, label: str, body: list[str], width: int = WIDTH) -> Markup:
    head = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    )
    # Every text that came from data went through escape() where the body was built.
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704


def _axis(top: int, bottom: int, left: int, right: int, peak: int) -> list[str]:
    # Three gridlines (0, half, top): enough to read a bar, too few to clutter.
    parts = []
    for fraction in (0, 0.5, 1):
        y = bottom - (bottom - top) * fraction
        parts.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        value = peak * fraction
        text = f"{value:g}" if value != int(value) else str(int(value))
        parts.append(
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{text}</text>'
        )
    return parts


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[Series],
    title: str,
    height: int = 230,
    width: int = WIDTH,
) -> Markup:
    """Vertical bars, one per label, stacked by series (calls per day by topic)."""
    left, right, top, bottom = 40, width - 8, 10, height - 26
    count = max(1, len(labels))
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    peak = nice_max(max(totals, default=0))
    slot = (right - left) / count
    bar = max(1.0, slot * 0.72)
    body = _axis(top, bottom, left, right, peak)
    every = max(1, -(-count // 12))  # at most a dozen labels under the axis
    for i, name in enumerate(labels):
        x = left + slot * i + (slot - bar) / 2
        y = float(bottom)
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = (bottom - top) * value / peak
            y -= h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{s.color}">'
                f"<title>{escape(name)} · {escape(s.label)}: {value}</title></rect>"
            )
        if i % every == 0:
            body.append(
                f'<text class="axis" x="{x + bar / 2:.1f}" y="{bottom + 16}" '
                f'text-anchor="middle">{escape(name)}</text>'
            )
    return _svg(height, title, body, width)


def heat_color(value: int, peak: int) -> str:
    """A calm ramp from pale sand to brick red; empty cells stay light grey."""
    if value <= 0 or peak <= 0:
        return EMPTY_CELL
    t = 0.15 + 0.85 * min(1.0, value / peak)
    low, high = (0xF7, 0xE8, 0xD8), (0xA8, 0x3F, 0x3A)
    r, g, b = (round(a + (z - a) * t) for a, z in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(
    grid: Sequence[Sequence[int]], row_labels: Sequence[str], title: str, cell_title: str
) -> Markup:
    """A weekday x hour grid of counts; cell_title is formatted with day, hour, n."""
    left, top, cell_w, cell_h = 50, 20, 40, 30
    peak = max((v for row in grid for v in row), default=0)
    body = []
    for hour in range(24):
        if hour % 3 == 0:
            body.append(
                f'<text class="axis" x="{left + cell_w * hour + cell_w / 2:.1f}" y="{top - 6}" '
                f'text-anchor="middle">{hour:02d}</text>'
            )
    for row, name in enumerate(row_labels):
        y = top + row * cell_h
        body.append(
            f'<text class="axis" x="{left - 8}" y="{y + cell_h / 2 + 4:.1f}" '
            f'text-anchor="end">{escape(name)}</text>'
        )
        for hour in range(24):
            value = grid[row][hour]
            x = left + hour * cell_w
            tip = escape(cell_title % {"day": name, "hour": f"{hour:02d}:00", "n": value})
            body.append(
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" rx="3" '
                f'fill="{heat_color(value, peak)}"><title>{tip}</title></rect>'
            )
            if value:
                ink = "#ffffff" if value > peak * 0.55 else "#5a3a2a"
                body.append(
                    f'<text class="cell" x="{x + cell_w / 2:.1f}" y="{y + cell_h / 2 + 4:.1f}" '
                    f'text-anchor="middle" fill="{ink}">{value}</text>'
                )
    height = top + cell_h * len(row_labels) + 6
    return _svg(height, title, body, width=left + cell_w * 24 + 4)


def horizontal_bars(
    items: Sequence[tuple[str, int, str]], title: str, value_note: str = "", width: int = 480
) -> Markup:
    """One horizontal bar per (label, value, color), the value written after it."""
    left, right, row_h = 150, width - 50, 30
    peak = max((value for _, value, _ in items), default=0) or 1
    body = []
    for i, (name, value, color) in enumerate(items):
        y = 6 + i * row_h
        w = (right - left) * value / peak
        body.append(
            f'<text class="label" x="{left - 10}" y="{y + 16}" '
            f'text-anchor="end">{escape(name)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 10}" rx="3" '
            f'fill="{color}"><title>{escape(name)}: {value}{escape(value_note)}</title></rect>'
            f'<text class="value" x="{left + w + 8:.1f}" y="{y + 16}">{value}</text>'
        )
    return _svg(12 + row_h * max(1, len(items)), title, body, width)
