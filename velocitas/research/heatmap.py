"""A sweep's heatmap: the objective over two varying parameters (`Heatmap`), and that grid as
one self-contained HTML file (inline SVG, no script, no network).

plotly is a development dependency only, so the writer draws the grid itself: one cell per
(x, y) pair on a diverging scale centred on zero (red below, white at zero, green above; the
darkest shade at the largest magnitude on either side), the value printed in the cell and
shown on hover. A run a constraint excluded (too few trades, too deep a drawdown) is a grey
hatched cell marked "excl."; a pair the strategy refuses (e.g. fast >= slow), never run, is a
white cell with a dashed border marked "×". A legend under the grid says which is which.
Same sweep, same bytes.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["CellStatus", "Heatmap", "heatmap_html", "write_heatmap"]

CellStatus = Literal["ranked", "excluded", "invalid"]


@dataclass(frozen=True)
class Heatmap:
    """The objective over a two-parameter grid: `z[j][i]` at (x_values[i], y_values[j]), a
    ranked run's value (None elsewhere); `status[j][i]` says whether the pair was ranked,
    excluded by a constraint, or invalid (refused, never run). No status given: a cell with a
    value is ranked, one without is invalid."""

    x: str
    y: str
    x_values: list[Any]
    y_values: list[Any]
    z: list[list[float | None]]
    objective: str
    status: list[list[CellStatus]] | None = None

    def cell_status(self, j: int, i: int) -> CellStatus:
        if self.status is not None:
            return self.status[j][i]
        return "invalid" if self.z[j][i] is None else "ranked"

    def to_dict(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "y": self.y,
            "x_values": self.x_values,
            "y_values": self.y_values,
            "z": self.z,
            "status": [
                [self.cell_status(j, i) for i in range(len(self.x_values))]
                for j in range(len(self.y_values))
            ],
            "objective": self.objective,
        }


_CELL_W = 64
_CELL_H = 28
_MARGIN_L = 90
_MARGIN_T = 60


_RED = (215, 48, 39)
_GREEN = (26, 152, 80)
_EXCLUDED_FILL = "url(#excluded)"
_INVALID_FILL = "#ffffff"
_PATTERN = (
    '<defs><pattern id="excluded" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#d0d0d0"/>'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#9a9a9a" stroke-width="2"/></pattern></defs>'
)


def _colour(value: float | None, scale: float) -> str:
    """Diverging: white at zero, towards red below and green above, full at +-`scale`."""
    if value is None or not math.isfinite(value) or scale == 0:
        return "#ffffff"
    k = min(abs(value) / scale, 1.0)
    end = _GREEN if value > 0 else _RED
    r, g, b = (round(255 + (c - 255) * k) for c in end)
    return f"#{r:02x}{g:02x}{b:02x}"


def _label(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.2e}"


def _cell(heat: Heatmap, j: int, i: int, scale: float) -> str:
    x, y = heat.x_values[i], heat.y_values[j]
    left, top = _MARGIN_L + i * _CELL_W, _MARGIN_T + j * _CELL_H
    status = heat.cell_status(j, i)
    value = heat.z[j][i]
    if status == "ranked":
        fill, border, text = _colour(value, scale), "", _label(value)
        tip = f"{heat.x}={x}, {heat.y}={y}: {heat.objective} = {_label(value)}"
    elif status == "excluded":
        fill, border, text = _EXCLUDED_FILL, "", "excl."
        tip = f"{heat.x}={x}, {heat.y}={y}: excluded by a constraint"
    else:
        fill, text = _INVALID_FILL, "×"
        border = ' stroke="#9a9a9a" stroke-dasharray="3,2"'
        tip = f"{heat.x}={x}, {heat.y}={y}: invalid parameters, not run"
    return (
        f'<g class="cell {status}"><title>{html.escape(tip)}</title><rect x="{left}" '
        f'y="{top}" width="{_CELL_W - 1}" height="{_CELL_H - 1}" fill="{fill}"{border}/>'
        f'<text x="{left + 4}" y="{top + 18}">{html.escape(text)}</text></g>'
    )


def _legend(top: int, scale: float) -> list[str]:
    """A five-step colour bar from -scale to +scale, then the two kinds of blank cell."""
    parts = []
    steps = (-scale, -scale / 2, 0.0, scale / 2, scale)
    for k, value in enumerate(steps):
        left = _MARGIN_L + k * 44
        parts.append(
            f'<rect x="{left}" y="{top}" width="43" height="14" fill="{_colour(value, scale)}" '
            f'stroke="#ccc"/><text x="{left + 2}" y="{top + 28}">{_label(value)}</text>'
        )
    left = _MARGIN_L + len(steps) * 44 + 16
    parts.append(
        f'<rect x="{left}" y="{top}" width="20" height="14" fill="{_EXCLUDED_FILL}"/>'
        f'<text x="{left + 26}" y="{top + 11}">excluded by a constraint</text>'
        f'<rect x="{left}" y="{top + 20}" width="20" height="14" fill="{_INVALID_FILL}" '
        f'stroke="#9a9a9a" stroke-dasharray="3,2"/>'
        f'<text x="{left + 26}" y="{top + 31}">invalid parameters (not run)</text>'
    )
    return parts


def heatmap_html(heat: Heatmap, title: str = "Sweep") -> str:
    """The HTML document of `heat` (objective over the two varying parameters)."""
    finite = [v for row in heat.z for v in row if v is not None and math.isfinite(v)]
    scale = max((abs(v) for v in finite), default=0.0)
    width = max(_MARGIN_L + _CELL_W * len(heat.x_values) + 20, _MARGIN_L + 5 * 44 + 230)
    grid_bottom = _MARGIN_T + _CELL_H * len(heat.y_values)
    height = grid_bottom + 100
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        _PATTERN,
        f'<text x="{_MARGIN_L}" y="20" font-size="14">{html.escape(heat.objective)} by '
        f"{html.escape(heat.x)} (columns) and {html.escape(heat.y)} (rows)</text>",
    ]
    for i, x in enumerate(heat.x_values):
        cx = _MARGIN_L + i * _CELL_W + _CELL_W // 2
        parts.append(f'<text x="{cx}" y="{_MARGIN_T - 8}" text-anchor="middle">{x}</text>')
    for j, y in enumerate(heat.y_values):
        cy = _MARGIN_T + j * _CELL_H + _CELL_H // 2 + 4
        parts.append(f'<text x="{_MARGIN_L - 8}" y="{cy}" text-anchor="end">{y}</text>')
        parts += [_cell(heat, j, i, scale) for i in range(len(heat.x_values))]
    parts.append(
        f'<text x="{_MARGIN_L}" y="{grid_bottom + 20}">{html.escape(heat.x)} →   '
        f"({html.escape(heat.objective)}: red below zero, green above)</text>"
    )
    parts += _legend(grid_bottom + 40, scale)
    parts.append("</svg>")
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
