"""A sweep's heatmap: the objective over two varying parameters (`Heatmap`), and that grid as
one self-contained HTML file (inline SVG, no script, no network).

plotly is a development dependency only, so the writer draws the grid itself: one cell per
(x, y) pair coloured from red (worst) through white to green (best), the value printed in the
cell and shown on hover; cells without a ranked run (a constraint excluded it, or the pair
breaks a rule such as fast < slow) stay grey. Same sweep, same bytes.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Heatmap", "heatmap_html", "write_heatmap"]


@dataclass(frozen=True)
class Heatmap:
    """The objective over a two-parameter grid: `z[j][i]` at (x_values[i], y_values[j])."""

    x: str
    y: str
    x_values: list[Any]
    y_values: list[Any]
    z: list[list[float | None]]
    objective: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "y": self.y,
            "x_values": self.x_values,
            "y_values": self.y_values,
            "z": self.z,
            "objective": self.objective,
        }


_CELL_W = 64
_CELL_H = 28
_MARGIN_L = 90
_MARGIN_T = 60


def _colour(value: float | None, low: float, high: float) -> str:
    if value is None:
        return "#d0d0d0"
    t = 0.5 if high == low else (value - low) / (high - low)
    # red (0) → white (0.5) → green (1)
    if t < 0.5:
        k = t / 0.5
        r, g, b = 215, int(48 + (255 - 48) * k), int(39 + (255 - 39) * k)
    else:
        k = (t - 0.5) / 0.5
        r, g, b = int(255 - (255 - 26) * k), int(255 - (255 - 152) * k), int(255 - (255 - 80) * k)
    return f"#{r:02x}{g:02x}{b:02x}"


def _label(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.2e}"


def heatmap_html(heat: Heatmap, title: str = "Sweep") -> str:
    """The HTML document of `heat` (objective over the two varying parameters)."""
    finite = [v for row in heat.z for v in row if v is not None and math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    width = _MARGIN_L + _CELL_W * len(heat.x_values) + 20
    height = _MARGIN_T + _CELL_H * len(heat.y_values) + 50
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="{_MARGIN_L}" y="20" font-size="14">{html.escape(heat.objective)} by '
        f"{html.escape(heat.x)} (columns) and {html.escape(heat.y)} (rows)</text>",
    ]
    for i, x in enumerate(heat.x_values):
        cx = _MARGIN_L + i * _CELL_W + _CELL_W // 2
        parts.append(f'<text x="{cx}" y="{_MARGIN_T - 8}" text-anchor="middle">{x}</text>')
    for j, y in enumerate(heat.y_values):
        cy = _MARGIN_T + j * _CELL_H + _CELL_H // 2 + 4
        parts.append(f'<text x="{_MARGIN_L - 8}" y="{cy}" text-anchor="end">{y}</text>')
        for i, x in enumerate(heat.x_values):
            value = heat.z[j][i]
            tip = f"{heat.x}={x}, {heat.y}={y}: {heat.objective} = {_label(value)}"
            parts.append(
                f'<g><title>{html.escape(tip)}</title><rect x="{_MARGIN_L + i * _CELL_W}" '
                f'y="{_MARGIN_T + j * _CELL_H}" width="{_CELL_W - 1}" height="{_CELL_H - 1}" '
                f'fill="{_colour(value, low, high)}"/><text x="{_MARGIN_L + i * _CELL_W + 4}" '
                f'y="{_MARGIN_T + j * _CELL_H + 18}">{_label(value)}</text></g>'
            )
    bottom = _MARGIN_T + _CELL_H * len(heat.y_values) + 24
    parts.append(
        f'<text x="{_MARGIN_L}" y="{bottom}">{html.escape(heat.x)} →   '
        f"(grey: excluded or invalid; best = green)</text></svg>"
    )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>\n"
        f"<h2>{html.escape(title)}</h2>\n" + "\n".join(parts) + "\n</body></html>\n"
    )


def write_heatmap(heat: Heatmap, path: Path, title: str = "Sweep") -> Path:
    """Write `heatmap_html(heat, title)` to `path` (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(heatmap_html(heat, title), encoding="utf-8")
    return path
