"""The sweep heatmap: a diverging scale centred on zero; excluded and invalid cells told apart.

On backtesting.py's GOOG daily bars: an SMA-cross grid whose returns straddle zero, a
min-trades constraint that excludes the slowest pairs, and fast >= slow pairs the strategy
refuses."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
from backtesting.test import GOOG

from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestSpec
from velocitas.research.grid import grid_combinations
from velocitas.research.heatmap import Heatmap, heatmap_html
from velocitas.research.sweeps import run_sweep

BARS = BarArrays(
    "GOOG",
    "1d",
    GOOG.index.as_unit("ns").asi8.astype(np.int64),
    *(GOOG[c].to_numpy(np.float64) for c in ("Open", "High", "Low", "Close", "Volume")),
)
SPEC = BacktestSpec.model_validate(
    {
        "symbol": "GOOG",
        "strategy": {"name": "sma_cross", "params": {}},
        "timeframe": "1d",
        "start": datetime(2004, 8, 19, tzinfo=UTC),
        "end": datetime(2013, 3, 2, tzinfo=UTC),
    }
)


def _fills(page: str) -> dict[str, str]:
    """Each cell's class (ranked / excluded / invalid) and label -> its fill."""
    cells = re.findall(r'<g class="cell (\w+)">.*?fill="([^"]+)".*?<text[^>]*>([^<]*)</text>', page)
    return {f"{status} {label}": fill for status, fill, label in cells}


def test_sweep_heatmap_marks_excluded_and_invalid_cells_apart() -> None:
    combos, skipped = grid_combinations(
        "sma_cross", {"fast": [5, 20, 60, 120], "slow": [10, 50, 100, 200]}
    )
    result = run_sweep(SPEC, {"GOOG": BARS}, combos, objective="total_return", min_trades=25)
    heat = result.heatmap()
    assert heat is not None
    statuses = {s for row in heat.to_dict()["status"] for s in row}
    assert statuses == {"ranked", "excluded", "invalid"}
    assert skipped == sum(row.count("invalid") for row in heat.to_dict()["status"])
    assert len(result.excluded) == sum(row.count("excluded") for row in heat.to_dict()["status"])
    page = heatmap_html(heat)
    fills = {fill for key, fill in _fills(page).items() if key.startswith("excluded")}
    assert fills == {"url(#excluded)"}  # hatched grey
    invalid = {fill for key, fill in _fills(page).items() if key.startswith("invalid")}
    assert invalid == {"#ffffff"}  # white, dashed border
    assert "excluded by a constraint" in page
    assert "invalid parameters (not run)" in page


def test_heatmap_diverging_scale_is_centred_on_zero() -> None:
    heat = Heatmap(
        "fast",
        "slow",
        [5, 10, 20],
        [50],
        [[-0.5, 0.0, 0.25]],
        "total_return",
        [["ranked", "ranked", "ranked"]],
    )
    fills = _fills(heatmap_html(heat))
    # The scale is symmetric: +-0.5 are the full red and green; 0 is white; +0.25 half green.
    assert fills["ranked -0.5"] == "#d73027"
    assert fills["ranked 0"] == "#ffffff"
    assert fills["ranked 0.25"] == "#8ccca8"
    # All-positive values still start from white at zero, not red at their minimum.
    positive = Heatmap("a", "b", [1, 2], [1], [[0.1, 0.2]], "sharpe", [["ranked", "ranked"]])
    shades = _fills(heatmap_html(positive))
    assert shades["ranked 0.2"] == "#1a9850"
    assert shades["ranked 0.1"] == "#8ccca8"
