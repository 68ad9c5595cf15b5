"""A loss curve drawn as inline SVG on the server: no JavaScript chart library, no CDN, works offline.

The output is built from numbers only (no user text), so it is safe to mark as HTML in the template.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k) spanning [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return []
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def line_chart(
    series: Sequence[tuple[str, Sequence[tuple[float, float]], str]],
    *,
    width: int = 640,
    height: int = 260,
    x_label: str = "step",
    y_label: str = "loss",
    title: str = "",
) -> str:
    """An SVG line chart. `series` holds (name, [(x, y), ...], css colour); empty input gives a note."""
    points = [(x, y) for _, pts, _ in series for x, y in pts if math.isfinite(y)]
    if not points:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="60" role="img" '
            f'aria-label="{escape(title or y_label)}"><text x="10" y="35" font-size="13">No points yet.</text></svg>'
        )
    left, right, top, bottom = 58, 16, 24 if title else 12, 38
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_min, x_max = min(xs), max(xs)
    y_min, y_max = min(ys), max(ys)
    if x_max == x_min:
        x_min, x_max = x_min - 1, x_max + 1
    pad = (y_max - y_min) * 0.05 or abs(y_max) * 0.05 or 1.0
    y_min, y_max = y_min - pad, y_max + pad
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x_min) / (x_max - x_min) * plot_w

    def sy(y: float) -> float:
        return top + (1 - (y - y_min) / (y_max - y_min)) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title or y_label)} by {escape(x_label)}" class="chart">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>',
    ]
    if title:
        parts.append(f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>')
    for tick in _nice_ticks(y_min, y_max):
        y = sy(tick)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{_fmt(tick)}</text>')
    for tick in _nice_ticks(x_min, x_max, 6):
        if tick != int(tick) and x_max - x_min > 5:
            continue
        x = sx(tick)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" stroke="#888"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle">{_fmt(tick)}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" font-size="12" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    parts.append(
        f'<text x="14" y="{top + plot_h / 2:.1f}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    for i, (name, pts, colour) in enumerate(series):
        clean = [(x, y) for x, y in pts if math.isfinite(y)]
        if not clean:
            continue
        path = " ".join(f"{'M' if j == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for j, (x, y) in enumerate(clean))
        parts.append(f'<path d="{path}" fill="none" stroke="{escape(colour)}" stroke-width="1.6"/>')
        if len(clean) <= 60:
            for x, y in clean:
                parts.append(
                    f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2" fill="{escape(colour)}">'
                    f"<title>{escape(name)} step {_fmt(x)}: {_fmt(y)}</title></circle>"
                )
        if len(series) > 1:
            ly = top + 14 + 14 * i
            parts.append(f'<line x1="{left + 8}" x2="{left + 24}" y1="{ly}" y2="{ly}" stroke="{escape(colour)}"/>')
            parts.append(f'<text x="{left + 28}" y="{ly + 4}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def loss_curve_svg(points: Sequence[tuple[int, float]], smoothed: Sequence[tuple[int, float]] | None = None) -> str:
    """The run page's chart: raw loss per step, and a moving average when the curve is long."""
    series: list[tuple[str, Sequence[tuple[float, float]], str]] = [("loss", points, "#4a78c2")]
    if smoothed is not None and list(smoothed) != list(points):
        series.append(("moving average", smoothed, "#c2534a"))
    return line_chart(series, title="Training loss (answer tokens)")
