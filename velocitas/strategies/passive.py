"""Buy and hold: the benchmark every other strategy is compared with."""

from __future__ import annotations

import numpy as np

from velocitas.strategies.base import I8, Bars, Strategy, StrategyParams

__all__ = ["BuyAndHold"]


class BuyAndHold(Strategy):
    """Long from the first bar's close to the end (filled at the second bar's open by default)."""

    name = "buy_and_hold"
    description = "Long from the first bar to the last."

    class Params(StrategyParams):
        pass

    params: Params

    def signals(self, bars: Bars) -> I8:
        return np.ones(len(bars), dtype=np.int8)
