"""Crossover strategies: hold the side of the most recent crossing of two lines.

A crossing happens at the close of the bar where the fast line moves to the other side of the
slow one (bars where the two are exactly equal do not count as a side). After an upward
crossing the target is long, after a downward one short (or flat when shorting is not
allowed). Before the first crossing the target is flat: a strategy that starts while the fast
line is already above waits for a real crossing, as backtesting.py's `crossover` and
vectorbt's `crossed_above` do.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from velocitas.jit import njit
from velocitas.strategies.base import F64, I8, AllowShort, Bars, Strategy, StrategyParams, long_only

__all__ = [
    "EmaCross",
    "MacdCross",
    "SmaCross",
    "cross_side",
    "ema_cross_side",
    "macd_cross_side",
    "sma_cross_side",
]


@njit(cache=True, inline="always")
def _cross_step(order: int, side: int, fast: float, slow: float) -> tuple[int, int]:
    """One bar of the crossing rule: (order of the lines, side held) after seeing the bar."""
    if fast > slow:
        d = 1
    elif fast < slow:
        d = -1
    else:  # equal, or NaN on either side: no information
        d = 0
    if d != 0:
        if order != 0 and d != order:
            side = d
        order = d
    return order, side


@njit(cache=True, nogil=True)
def cross_side(fast: F64, slow: F64) -> I8:
    """Side of the most recent crossing of `fast` over `slow` at each bar; 0 before the first.

    NaN bars (warm-up) keep the current side and leave the last seen order of the lines as is.
    """
    out = np.zeros(len(fast), dtype=np.int8)
    order = 0  # sign of (fast - slow) at the last bar where they differed
    side = 0
    for i in range(len(fast)):
        order, side = _cross_step(order, side, fast[i], slow[i])
        out[i] = side
    return out


# The kernels below fuse indicator and crossing into one pass with no float scratch arrays
# (two 1M-bar averages cost more in page faults than the whole computation). Each repeats
# the arithmetic of velocitas.indicators operation for operation, so the averages are the same
# floats bit for bit; the tests check them against cross_side on the indicators' arrays.


@njit(cache=True, inline="always")
def _order_of_means(sum_a: float, n_a: int, sum_b: float, n_b: int) -> int:
    """The sign of `sum_a / n_a - sum_b / n_b` as `_cross_step` sees the two quotients
    (0 when they are equal or NaN), mostly without dividing (two divisions a bar bound the
    whole pass).

    With n_a, n_b > 0 the sign of the exact difference is that of sum_a × n_b − sum_b × n_a.
    Each product is within 2**-53 of its exact value (relative) while both are normal
    doubles, so a gap wider than 1e-12 of their size gives the exact sign, and the two
    correctly rounded quotients, whose exact values differ by that much, cannot round to the
    same double or to the other order. Closer (or subnormal, infinite, NaN) cases divide, as
    `_cross_step` does, so the result is the same in every case.
    """
    x = sum_a * n_b
    y = sum_b * n_a
    size = abs(x) + abs(y)
    gap = x - y
    if size > 1e-290 and abs(gap) > 1e-12 * size:  # False for NaN and infinities
        return 1 if gap > 0.0 else -1
    mean_a = sum_a / n_a
    mean_b = sum_b / n_b
    if mean_a > mean_b:
        return 1
    if mean_a < mean_b:
        return -1
    return 0


@njit(cache=True, nogil=True)
def _sma_cross_side_finite(close: F64, fast: int, slow: int, out: I8) -> bool:
    """`sma_cross_side` into `out` for closes without NaN (what a backtest's checked bars
    are): the same additions in the same order, without the NaN bookkeeping, and no branch on
    the window in the main loop. Returns False, with `out` partly written, at the first NaN;
    the caller then runs the general loop, which rewrites every element."""
    n = len(close)
    longest = max(fast, slow)
    sum_fast = 0.0
    sum_slow = 0.0
    order = 0
    side = 0
    for i in range(min(longest, n)):  # warm-up: one window or both still filling
        x = close[i]
        if np.isnan(x):
            return False
        sum_fast += x
        sum_slow += x
        if i >= fast:
            sum_fast -= close[i - fast]
        if i >= slow:
            sum_slow -= close[i - slow]
        if i >= fast - 1 and i >= slow - 1:
            order, side = _cross_step(order, side, sum_fast / fast, sum_slow / slow)
        out[i] = side
    for i in range(longest, n):
        x = close[i]
        if np.isnan(x):
            return False
        sum_fast += x
        sum_slow += x
        sum_fast -= close[i - fast]
        sum_slow -= close[i - slow]
        d = _order_of_means(sum_fast, fast, sum_slow, slow)  # _cross_step, without dividing
        if d != 0:
            if order != 0 and d != order:
                side = d
            order = d
        out[i] = side
    return True


@njit(cache=True, nogil=True)
def sma_cross_side(close: F64, fast: int, slow: int) -> I8:
    """`cross_side(sma(close, fast), sma(close, slow))` in one pass."""
    out = np.zeros(len(close), dtype=np.int8)
    if fast < 1 or slow < 1:
        return out
    if _sma_cross_side_finite(close, fast, slow, out):
        return out
    sum_fast = 0.0
    sum_slow = 0.0
    missing_fast = 0
    missing_slow = 0
    order = 0
    side = 0
    for i in range(len(close)):
        x = close[i]
        if np.isnan(x):
            missing_fast += 1
            missing_slow += 1
        else:
            sum_fast += x
            sum_slow += x
        if i >= fast:
            if np.isnan(close[i - fast]):
                missing_fast -= 1
            else:
                sum_fast -= close[i - fast]
        if i >= slow:
            if np.isnan(close[i - slow]):
                missing_slow -= 1
            else:
                sum_slow -= close[i - slow]
        if i >= fast - 1 and i >= slow - 1 and missing_fast == 0 and missing_slow == 0:
            order, side = _cross_step(order, side, sum_fast / fast, sum_slow / slow)
        out[i] = side
    return out


@njit(cache=True, nogil=True)
def ema_cross_side(close: F64, fast: int, slow: int) -> I8:
    """`cross_side(ema(close, fast), ema(close, slow))` in one pass."""
    out = np.zeros(len(close), dtype=np.int8)
    alpha_fast = 2.0 / (fast + 1.0)
    alpha_slow = 2.0 / (slow + 1.0)
    ema_fast = np.nan
    ema_slow = np.nan
    seen = 0
    order = 0
    side = 0
    for i in range(len(close)):
        x = close[i]
        if not np.isnan(x):
            if seen == 0:
                ema_fast = x
                ema_slow = x
            else:
                ema_fast = alpha_fast * x + (1.0 - alpha_fast) * ema_fast
                ema_slow = alpha_slow * x + (1.0 - alpha_slow) * ema_slow
            seen += 1
        if seen >= fast and seen >= slow:
            order, side = _cross_step(order, side, ema_fast, ema_slow)
        out[i] = side
    return out


@njit(cache=True, nogil=True)
def macd_cross_side(close: F64, fast: int, slow: int, signal: int) -> I8:
    """`cross_side(*macd(close, fast, slow, signal)[:2])` in one pass."""
    out = np.zeros(len(close), dtype=np.int8)
    alpha_fast = 2.0 / (fast + 1.0)
    alpha_slow = 2.0 / (slow + 1.0)
    alpha_signal = 2.0 / (signal + 1.0)
    ema_fast = np.nan
    ema_slow = np.nan
    signal_line = np.nan
    seen = 0
    lines = 0
    order = 0
    side = 0
    for i in range(len(close)):
        x = close[i]
        if not np.isnan(x):
            if seen == 0:
                ema_fast = x
                ema_slow = x
            else:
                ema_fast = alpha_fast * x + (1.0 - alpha_fast) * ema_fast
                ema_slow = alpha_slow * x + (1.0 - alpha_slow) * ema_slow
            seen += 1
        if seen >= fast and seen >= slow:  # the MACD line exists from here on
            line = ema_fast - ema_slow
            if lines == 0:
                signal_line = line
            else:
                signal_line = alpha_signal * line + (1.0 - alpha_signal) * signal_line
            lines += 1
            if lines >= signal:
                order, side = _cross_step(order, side, line, signal_line)
        out[i] = side
    return out


class _FastSlow(StrategyParams):
    """Two windows, the fast one shorter; subclasses give defaults, bounds and descriptions."""

    constraints: ClassVar[tuple[str, ...]] = ("fast < slow",)

    fast: int
    slow: int

    @field_validator("slow")
    @classmethod
    def _slow_above_fast(cls, slow: int, info: ValidationInfo) -> int:
        fast = info.data.get("fast")  # absent when fast itself was invalid
        if fast is not None and fast >= slow:
            raise ValueError(f"slow ({slow}) must be greater than fast ({fast})")
        return slow


class SmaCross(Strategy):
    name = "sma_cross"
    description = (
        "Long when the fast SMA crosses above the slow SMA; exit (or short) on the cross below."
    )

    class Params(_FastSlow):
        fast: int = Field(10, ge=1, le=10_000, description="fast SMA window, bars")
        slow: int = Field(50, ge=2, le=10_000, description="slow SMA window, bars")
        allow_short: AllowShort = False

    params: Params

    def signals(self, bars: Bars) -> I8:
        close = np.asarray(bars.close, dtype=np.float64)
        p = self.params
        return long_only(sma_cross_side(close, p.fast, p.slow), p.allow_short)


class EmaCross(Strategy):
    name = "ema_cross"
    description = (
        "Long when the fast EMA crosses above the slow EMA; exit (or short) on the cross below."
    )

    class Params(_FastSlow):
        fast: int = Field(12, ge=1, le=10_000, description="fast EMA span, bars")
        slow: int = Field(26, ge=2, le=10_000, description="slow EMA span, bars")
        allow_short: AllowShort = False

    params: Params

    def signals(self, bars: Bars) -> I8:
        close = np.asarray(bars.close, dtype=np.float64)
        p = self.params
        return long_only(ema_cross_side(close, p.fast, p.slow), p.allow_short)


class MacdCross(Strategy):
    name = "macd_cross"
    description = (
        "Long when the MACD line crosses above its signal line; exit (or short) on the cross below."
    )

    class Params(_FastSlow):
        fast: int = Field(12, ge=1, le=10_000, description="fast EMA span, bars")
        slow: int = Field(26, ge=2, le=10_000, description="slow EMA span, bars")
        signal: int = Field(9, ge=1, le=10_000, description="signal-line EMA span, bars")
        allow_short: AllowShort = False

    params: Params

    def signals(self, bars: Bars) -> I8:
        close = np.asarray(bars.close, dtype=np.float64)
        p = self.params
        return long_only(macd_cross_side(close, p.fast, p.slow, p.signal), p.allow_short)
