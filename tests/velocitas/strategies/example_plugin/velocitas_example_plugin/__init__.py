"""An example strategy plugin: a `Strategy` subclass declared as an entry point of the group
`velocitas.strategies` in this package's pyproject.toml (see docs/strategies.md, "Strategies
from an installed package")."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from velocitas import indicators
from velocitas.strategies import I8, AllowShort, Bars, Strategy, StrategyParams, long_only


class CloseAboveSma(Strategy):
    name = "close_above_sma"
    description = "Long while the close is above its `period`-bar SMA (short below if allowed)."

    class Params(StrategyParams):
        period: int = Field(20, ge=2, le=10_000, description="SMA window, bars")
        allow_short: AllowShort = False

    params: Params

    def signals(self, bars: Bars) -> I8:
        close = np.asarray(bars.close, dtype=np.float64)
        average = indicators.sma(close, self.params.period)
        side = (close > average).astype(np.int8) - (close < average).astype(np.int8)
        return long_only(side, self.params.allow_short)
