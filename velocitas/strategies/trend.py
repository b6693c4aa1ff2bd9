"""Trend-following strategies: momentum (rate of change) and Donchian channel breakout."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from velocitas import indicators
from velocitas.jit import njit
from velocitas.strategies.base import F64, I8, AllowShort, Bars, Strategy, StrategyParams
from velocitas.strategies.shared import shared

__all__ = ["DonchianBreakout", "Momentum", "breakout_side"]


class Momentum(Strategy):
    """Side follows the rate of change: no memory, no hysteresis beyond the threshold."""

    name = "momentum"
    description = (
        "Long while the rate of change over `period` bars is above +threshold %;"
        " short while below −threshold %."
    )

    class Params(StrategyParams):
        period: int = Field(10, ge=1, le=10_000, description="rate-of-change lookback, bars")
        threshold: float = Field(
            0.0, ge=0.0, le=1_000.0, description="dead band around zero, percent"
        )
        allow_short: AllowShort = False

    params: Params

    def signals(self, bars: Bars) -> I8:
        p = self.params
        close = np.asarray(bars.close, dtype=np.float64)
        change = shared(bars, ("roc", "close", p.period), lambda: indicators.roc(close, p.period))
        side = (change > p.threshold).astype(np.int8)  # NaN compares false: flat in warm-up
        if p.allow_short:
            side -= (change < -p.threshold).astype(np.int8)
        return side


@njit(cache=True, nogil=True)
def breakout_side(
    close: F64,
    entry_high: F64,
    entry_low: F64,
    exit_high: F64,
    exit_low: F64,
    allow_short: bool,
) -> I8:
    """Breakout state machine; the close at bar i is compared with the channels at bar i − 1.

    A long exits when the close falls below the previous `exit_low`, a short when it rises
    above the previous `exit_high`; then, when flat, a close above the previous `entry_high`
    goes long and (with shorts) one below the previous `entry_low` goes short. NaN levels
    (warm-up) never trigger.
    """
    out = np.zeros(len(close), dtype=np.int8)
    side = 0
    for i in range(1, len(close)):
        c = close[i]
        if (side == 1 and c < exit_low[i - 1]) or (side == -1 and c > exit_high[i - 1]):
            side = 0
        if side == 0:
            if c > entry_high[i - 1]:
                side = 1
            elif allow_short and c < entry_low[i - 1]:
                side = -1
        out[i] = side
    return out


class DonchianBreakout(Strategy):
    """Turtle-style breakout, channels taken from the bars before the current one.

    The current bar is excluded because a channel that includes it can never be exceeded by
    its own close.
    """

    name = "donchian_breakout"
    description = (
        "Long when the close breaks above the previous `period`-bar high; exit below the"
        " previous `exit_period`-bar low (shorts mirror it)."
    )

    class Params(StrategyParams):
        constraints: ClassVar[tuple[str, ...]] = ("exit_period <= period",)

        period: int = Field(20, ge=1, le=10_000, description="entry channel window, bars")
        exit_period: int = Field(10, ge=1, le=10_000, description="exit channel window, bars")
        allow_short: AllowShort = False

        @field_validator("exit_period")
        @classmethod
        def _exit_inside_entry(cls, exit_period: int, info: ValidationInfo) -> int:
            # A shorter exit channel lies inside the entry one, so an opposite breakout
            # always exits first: no position survives a breakout against it.
            period = info.data.get("period")
            if period is not None and exit_period > period:
                raise ValueError(f"exit_period ({exit_period}) must not exceed period ({period})")
            return exit_period

    params: Params

    def signals(self, bars: Bars) -> I8:
        p = self.params
        high = np.asarray(bars.high, dtype=np.float64)
        low = np.asarray(bars.low, dtype=np.float64)
        # A sweep over both windows shares each channel among its combinations.
        entry_high = _channel(bars, high, "high", p.period)
        exit_low = _channel(bars, low, "low", p.exit_period)
        if p.allow_short:
            entry_low = _channel(bars, low, "low", p.period)
            exit_high = _channel(bars, high, "high", p.exit_period)
        else:  # never read without shorts: skip two bar-length arrays
            entry_low = exit_high = entry_high
        close = np.asarray(bars.close, dtype=np.float64)
        return breakout_side(close, entry_high, entry_low, exit_high, exit_low, p.allow_short)


def _channel(bars: Bars, values: F64, column: str, n: int) -> F64:
    """The rolling maximum of the highs (`column` "high") or minimum of the lows ("low") over
    `n` bars, computed once per sweep (`velocitas.strategies.shared`)."""
    extreme = indicators.rolling_max if column == "high" else indicators.rolling_min
    return shared(bars, (extreme.__name__, column, n), lambda: extreme(values, n))
