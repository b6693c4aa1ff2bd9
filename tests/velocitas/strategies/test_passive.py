"""Buy and hold."""

from __future__ import annotations

import numpy as np

from tests.velocitas.strategies.conftest import MakeBars
from velocitas.strategies.passive import BuyAndHold


def test_buy_and_hold_is_long_on_every_bar(make_bars: MakeBars) -> None:
    side = BuyAndHold().signals(make_bars([3.0, 1.0, 2.0]))
    assert side.dtype == np.int8
    assert side.tolist() == [1, 1, 1]


def test_buy_and_hold_no_bars(make_bars: MakeBars) -> None:
    assert len(BuyAndHold().signals(make_bars([]))) == 0
