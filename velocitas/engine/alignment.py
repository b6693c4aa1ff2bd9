"""Put every leg on one time grid: the union of the legs' bar times.

A leg without a bar at a grid time carries its last close (for marking to market) and takes no
action there: no fills, no stop checks, no decisions. Before its first bar a leg holds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from velocitas.domain.bars import BarArrays

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
NS_PER_DAY = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True, eq=False)
class AlignedBars:
    """Prices as `[grid row, leg]` arrays; `rows[leg]` maps the leg's own bars to grid rows."""

    opened_at: I64
    open: F64
    high: F64
    low: F64
    close: F64
    has_bar: npt.NDArray[np.bool_]
    rows: tuple[I64, ...]

    @property
    def utc_day(self) -> I64:
        """UTC day number of every grid row (for the daily loss limit)."""
        return self.opened_at // NS_PER_DAY

    def place(self, per_leg: Sequence[np.ndarray], dtype: type, carry: bool) -> np.ndarray:
        """Spread per-leg series onto the grid; `carry` forward-fills rows without a bar."""
        if len(self.rows) == 1 and per_leg[0].dtype == dtype:
            return per_leg[0].reshape(-1, 1)  # one leg: the grid is its own bars, no copy
        out: np.ndarray = np.zeros((len(self.opened_at), len(per_leg)), dtype=dtype)
        for leg, values in enumerate(per_leg):
            if len(self.rows) == 1:
                out[:, leg] = values
            elif carry:
                out[:, leg] = _carried(values, self.rows[leg], len(self.opened_at), np.nan)
            else:
                out[self.rows[leg], leg] = values
        return out


def _carried(values: np.ndarray, rows: I64, n: int, before: float) -> np.ndarray:
    """values placed at `rows` of an n-row column, each gap holding the last value."""
    source = np.full(n, -1, dtype=np.int64)
    source[rows] = np.arange(len(rows))
    source = np.maximum.accumulate(source)
    padded = np.concatenate([np.asarray([before], dtype=np.float64), values.astype(np.float64)])
    return padded[source + 1]


def align(legs: Sequence[BarArrays]) -> AlignedBars:
    """Align the legs' bars (each sorted by `opened_at`) on the union of their bar times."""
    if len(legs) == 1:
        bars = legs[0]
        n = len(bars)
        return AlignedBars(
            opened_at=bars.opened_at,
            open=bars.open.reshape(n, 1),
            high=bars.high.reshape(n, 1),
            low=bars.low.reshape(n, 1),
            close=bars.close.reshape(n, 1),
            has_bar=np.ones((n, 1), dtype=np.bool_),
            rows=(np.arange(n, dtype=np.int64),),
        )
    grid = np.unique(np.concatenate([bars.opened_at for bars in legs]))
    n = len(grid)
    rows = tuple(np.searchsorted(grid, bars.opened_at).astype(np.int64) for bars in legs)
    has_bar = np.zeros((n, len(legs)), dtype=np.bool_)
    columns: dict[str, F64] = {name: np.zeros((n, len(legs))) for name in _PRICES}
    for leg, bars in enumerate(legs):
        has_bar[rows[leg], leg] = True
        carried_close = _carried(bars.close, rows[leg], n, 0.0)
        for name in _PRICES:
            column = carried_close.copy()
            column[rows[leg]] = getattr(bars, name)
            columns[name][:, leg] = column
    return AlignedBars(grid, columns["open"], columns["high"], columns["low"], columns["close"],
                       has_bar, rows)  # fmt: skip


_PRICES = ("open", "high", "low", "close")
