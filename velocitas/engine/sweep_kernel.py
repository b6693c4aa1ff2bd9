"""The fast path of a sweep: one combination's simulation and curve statistics in one call that
releases the GIL, so a sweep runs combinations on every core from plain threads (numba).

`simulate_combination` is the backtest kernel (`velocitas.engine.kernel.simulate`) with the
strategy's target sides given: the same `init_state` and the same per-bar rules
(`velocitas.engine.step.run_bars`, the only place they are written), run over blocks of bars so
that the fill and rejection buffers grow as needed instead of the whole run being simulated a
second time when they overflow. Splitting the bars into blocks changes nothing: `run_bars` keeps
the whole state of the run in the arrays it is given (the RL environment steps it a bar at a
time). It then computes, on the equity curve, the statistics `velocitas.metrics.compute_metrics`
computes, with the very same functions (`_equity_stats`, `_drawdown`).

So a combination's fills, rejections and equity are those of `run_backtest` with the same
parameters, and the sweep's metrics are the report's; `tests/velocitas/research/
test_sweep_fast.py` checks both for every registered strategy. Stops, risk rules, sizing, fees,
slippage, shorting and both fill modes are the kernel's own. One leg only (the caller checks).
"""

from __future__ import annotations

import numpy as np

from velocitas.engine.codes import F_COLUMNS, R_COLUMNS
from velocitas.engine.positions import A_SIZE, P_SIZE
from velocitas.engine.step import O_SIZE, init_state, run_bars
from velocitas.jit import njit
from velocitas.metrics import _drawdown, _equity_stats

__all__ = [
    "BLOCK_BARS",
    "C_COUNT",
    "C_DEEPEST",
    "C_DOWNSIDE",
    "C_MEAN",
    "C_SIZE",
    "C_STD",
    "C_VALID",
    "simulate_combination",
]

BLOCK_BARS = 16_384
"""Bars simulated between two checks of the record buffers' room."""
# A bar writes at most 4 fills per leg (exit and entry at the open, a stop, the end-of-data
# close; same-close mode: a stop, exit and entry at the close) and at most 2 rejections.
_RECORDS_PER_BAR = 4

# Slots of the statistics `simulate_combination` returns.
C_VALID = 0  # 1.0 when every target side is -1, 0 or +1
C_COUNT = 1  # period returns counted
C_MEAN = 2  # mean excess period return
C_STD = 3  # their standard deviation, ddof 1
C_DOWNSIDE = 4  # downside deviation
C_DEEPEST = 5  # maximum drawdown, a fraction
C_SIZE = 6


@njit(cache=True, inline="always")
def _room(buffer: np.ndarray, used: int, needed: int) -> np.ndarray:
    """`buffer`, or a copy at least twice as large holding its first `used` rows."""
    if buffer.shape[0] - used >= needed:
        return buffer
    grown = np.empty((max(2 * buffer.shape[0], used + needed), buffer.shape[1]))
    grown[:used] = buffer[:used]
    return grown


@njit(cache=True, nogil=True)
def simulate_combination(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    has_bar: np.ndarray,
    signals: np.ndarray,
    day: np.ndarray,
    atr_stop_loss: np.ndarray,
    atr_take_profit: np.ndarray,
    atr_trailing: np.ndarray,
    leg_scale: np.ndarray,
    cfg: np.ndarray,
    initial: float,
    rf: float,
    equity_curve: np.ndarray,
    fills: np.ndarray,
    rejections: np.ndarray,
    opened_at: np.ndarray,
    leg_keys: np.ndarray,
    confidence: np.ndarray,
    session_last: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Simulate one combination: (counts [fills, rejections], fill buffer, rejection buffer,
    statistics `C_*`).

    Arguments are `velocitas.engine.kernel.simulate`'s, plus the initial equity and the
    per-period risk-free rate of the metrics, the caller's buffers `equity_curve` (one
    value per bar, overwritten) and record buffers of any size (returned grown when the run
    needed more room; the first `counts` rows are the run's records), then `simulate`'s
    `opened_at`, `leg_keys`, `confidence` and `session_last`. Nothing is simulated when a
    target side is not -1, 0 or +1 (`C_VALID` is then 0).
    """
    stats = np.full(C_SIZE, np.nan)
    stats[C_VALID] = 1.0
    counts = np.zeros(2, dtype=np.int64)
    for side in signals.ravel():
        if side < -1 or side > 1:
            stats[C_VALID] = 0.0
            return counts, fills, rejections, stats
    n, legs = close.shape
    account = np.empty(A_SIZE)
    position = np.empty((legs, P_SIZE))
    orders = np.empty((O_SIZE, legs), dtype=np.int64)
    init_state(0, day, cfg, account, position, orders, counts)
    if fills.shape[1] != F_COLUMNS or rejections.shape[1] != R_COLUMNS:
        fills = np.empty((0, F_COLUMNS))
        rejections = np.empty((0, R_COLUMNS))
    for first in range(0, n, BLOCK_BARS):
        last = min(first + BLOCK_BARS, n) - 1
        needed = _RECORDS_PER_BAR * legs * (last - first + 1)
        fills = _room(fills, counts[0], needed)
        rejections = _room(rejections, counts[1], needed)
        run_bars(
            first, last, False, False, open_, high, low, close, has_bar, signals, day,
            atr_stop_loss, atr_take_profit, atr_trailing, leg_scale, cfg,
            account, position, orders, counts, fills, rejections, equity_curve, opened_at,
            leg_keys, confidence, session_last,
        )  # fmt: skip
    count, mean, std, downside = _equity_stats(equity_curve, initial, rf)
    deepest, _, _ = _drawdown(equity_curve, initial)
    stats[C_COUNT] = count
    stats[C_MEAN] = mean
    stats[C_STD] = std
    stats[C_DOWNSIDE] = downside
    stats[C_DEEPEST] = deepest
    return counts, fills, rejections, stats
