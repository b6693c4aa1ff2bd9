"""Mean-reversion strategies: enter beyond a band, exit when the price is back at the middle.

Both follow one state machine, evaluated at each bar's close on a value `v` and three levels
`lower <= exit <= upper`:

- long: entered when `v < lower`; held until `v >= exit`;
- short (only with `allow_short`): entered when `v > upper`; held until `v <= exit`;
- exits are checked before entries, so one bar can exit a long and enter a short.

While `v` or a level is NaN (warm-up) the side does not change (it is 0 during warm-up).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from velocitas import indicators
from velocitas.jit import njit
from velocitas.strategies.base import F64, I8, AllowShort, Bars, Strategy, StrategyParams
from velocitas.strategies.shared import shared

__all__ = [
    "BollingerReversion",
    "RsiReversion",
    "band_reversion",
    "bollinger_moments",
    "bollinger_reversion_side",
    "level_reversion",
]


@njit(cache=True, inline="always")
def _step(side: int, v: float, lower: float, exit_: float, upper: float, allow_short: bool) -> int:
    if np.isnan(v) or np.isnan(lower) or np.isnan(exit_) or np.isnan(upper):
        return side
    if (side == 1 and v >= exit_) or (side == -1 and v <= exit_):
        side = 0
    if side == 0:
        if v < lower:
            side = 1
        elif allow_short and v > upper:
            side = -1
    return side


@njit(cache=True, nogil=True)
def band_reversion(value: F64, lower: F64, exit_: F64, upper: F64, allow_short: bool) -> I8:
    """The state machine above with one level of each kind per bar (Bollinger bands)."""
    out = np.zeros(len(value), dtype=np.int8)
    side = 0
    for i in range(len(value)):
        side = _step(side, value[i], lower[i], exit_[i], upper[i], allow_short)
        out[i] = side
    return out


@njit(cache=True, nogil=True)
def level_reversion(value: F64, lower: float, exit_: float, upper: float, allow_short: bool) -> I8:
    """The state machine above with fixed levels (RSI)."""
    out = np.zeros(len(value), dtype=np.int8)
    side = 0
    for i in range(len(value)):
        side = _step(side, value[i], lower, exit_, upper, allow_short)
        out[i] = side
    return out


def bollinger_reversion_side(close: F64, n: int, k: float, allow_short: bool) -> I8:
    """`band_reversion(close, lower, mid, upper)` on `indicators.bollinger(close, n, k)`."""
    return _band_steps(close, bollinger_moments(close, n), k, allow_short)


@njit(cache=True, nogil=True)
def bollinger_moments(close: F64, n: int) -> F64:
    """[mid, σ] of `indicators.bollinger`'s windows of `n` (a (2, bars) array), NaN where the
    window is not full or holds a NaN: what every band width `k` shares (a sweep over `k`
    computes it once per period, `velocitas.strategies.shared`).

    Repeats the indicator's arithmetic (the SMA's running sum, the anchored deviation sums
    for σ) operation for operation, so the bands `mid ± k·σ` are the same floats; the tests
    check it.
    """
    moments = np.full((2, len(close)), np.nan)
    if n < 1:
        return moments
    total = 0.0
    missing = 0
    anchor = np.nan
    s1 = 0.0
    s2 = 0.0
    until_fresh = 0
    inv_n = 1.0 / n
    for i in range(len(close)):
        x = close[i]
        if np.isnan(x):
            missing += 1
        else:
            total += x
        if i >= n:
            if np.isnan(close[i - n]):
                missing -= 1
            else:
                total -= close[i - n]
        if i >= n - 1 and missing == 0:
            until_fresh -= 1
            if np.isnan(anchor) or until_fresh <= 0:
                until_fresh = n
                anchor = x
                s1 = 0.0
                s2 = 0.0
                for j in range(i - n + 1, i + 1):
                    d = close[j] - anchor
                    s1 += d
                    s2 += d * d
            else:
                a = x - anchor
                b = close[i - n] - anchor
                s1 += a - b
                s2 += a * a - b * b
            mean = s1 * inv_n
            moments[0, i] = total / n
            moments[1, i] = np.sqrt(max(s2 * inv_n - mean * mean, 0.0))
        elif i >= n - 1:
            anchor = np.nan  # a NaN in the window: the sums start afresh once it has left
    return moments


@njit(cache=True, nogil=True)
def _band_steps(close: F64, moments: F64, k: float, allow_short: bool) -> I8:
    """The reversion state machine on the bands `mid ± k·σ` of `bollinger_moments`."""
    out = np.zeros(len(close), dtype=np.int8)
    side = 0
    for i in range(len(close)):
        mid = moments[0, i]
        sd = moments[1, i]
        side = _step(side, close[i], mid - k * sd, mid, mid + k * sd, allow_short)  # NaN: kept
        out[i] = side
    return out


class RsiReversion(Strategy):
    name = "rsi_reversion"
    description = (
        "Long when Wilder's RSI falls below `lower` until it is back at `exit_level`;"
        " short above `upper` likewise."
    )

    class Params(StrategyParams):
        constraints: ClassVar[tuple[str, ...]] = ("lower < upper", "lower <= exit_level <= upper")

        period: int = Field(14, ge=2, le=1_000, description="RSI period, bars")
        lower: float = Field(30.0, ge=0.0, le=100.0, description="oversold level: long below it")
        upper: float = Field(70.0, ge=0.0, le=100.0, description="overbought level: short above it")
        exit_level: float = Field(
            50.0, ge=0.0, le=100.0, description="a long exits at or above it, a short at or below"
        )
        allow_short: AllowShort = False

        @field_validator("upper")
        @classmethod
        def _upper_above_lower(cls, upper: float, info: ValidationInfo) -> float:
            lower = info.data.get("lower")  # absent when lower itself was invalid
            if lower is not None and upper <= lower:
                raise ValueError(f"upper ({upper}) must be greater than lower ({lower})")
            return upper

        @field_validator("exit_level")
        @classmethod
        def _exit_between(cls, exit_level: float, info: ValidationInfo) -> float:
            lower, upper = info.data.get("lower"), info.data.get("upper")
            if lower is not None and upper is not None and not lower <= exit_level <= upper:
                raise ValueError(
                    f"exit_level ({exit_level}) must lie between lower ({lower})"
                    f" and upper ({upper})"
                )
            return exit_level

    params: Params

    def signals(self, bars: Bars) -> I8:
        p = self.params
        close = np.asarray(bars.close, dtype=np.float64)
        value = shared(bars, ("rsi", "close", p.period), lambda: indicators.rsi(close, p.period))
        return level_reversion(value, p.lower, p.exit_level, p.upper, p.allow_short)


class BollingerReversion(Strategy):
    name = "bollinger_reversion"
    description = (
        "Long when the close falls below the lower Bollinger band until it is back at the"
        " middle band; short above the upper band likewise."
    )

    class Params(StrategyParams):
        period: int = Field(20, ge=2, le=10_000, description="moving-average window, bars")
        k: float = Field(
            2.0, ge=0.1, le=10.0, description="band width in population standard deviations"
        )
        allow_short: AllowShort = False

    params: Params

    def signals(self, bars: Bars) -> I8:
        p = self.params
        close = np.asarray(bars.close, dtype=np.float64)
        moments = shared(
            bars,
            ("bollinger_moments", "close", p.period),
            lambda: bollinger_moments(close, p.period),
        )
        return _band_steps(close, moments, p.k, p.allow_short)
