"""Mean-reversion strategies on hand-computed paths."""

from __future__ import annotations

import numpy as np
import pytest

from tests.velocitas.strategies.conftest import MakeBars
from velocitas import indicators
from velocitas.strategies.reversion import (
    BollingerReversion,
    RsiReversion,
    band_reversion,
    bollinger_reversion_side,
)

# Changes −1 −1 −1 +1 +1 +1 +1 −1 −1; Wilder RSI(2) seeded with the first change gives, from
# bar 2: 0, 0, 50, 75, 87.5, 93.75, 46.875, 23.4375.
RSI_PATH = [10, 9, 8, 7, 8, 9, 10, 11, 10, 9]


def test_rsi_reversion_long_only_hand_path(make_bars: MakeBars) -> None:
    # long at bar 2 (0 < 30), held at 3 (0 < 50), out at 4 (50 >= exit 50), long again at 9.
    side = RsiReversion({"period": 2}).signals(make_bars(RSI_PATH))
    assert side.tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0, 1]


def test_rsi_reversion_with_shorts_hand_path(make_bars: MakeBars) -> None:
    # short at bar 5 (75 > 70), held while above 50, out at 8 (46.875 <= 50).
    side = RsiReversion({"period": 2, "allow_short": True}).signals(make_bars(RSI_PATH))
    assert side.tolist() == [0, 0, 1, 1, 0, -1, -1, -1, 0, 1]


def test_rsi_reversion_exit_at_upper_level(make_bars: MakeBars) -> None:
    # the classic 30/70 rule: exit the long only once RSI reaches 70 (bar 5, 75).
    params = {"period": 2, "exit_level": 70.0}
    assert RsiReversion(params).signals(make_bars(RSI_PATH)).tolist() == [
        0, 0, 1, 1, 1, 0, 0, 0, 0, 1,
    ]  # fmt: skip


# Bollinger(3, k=1), population σ:
# bar 3: window 10, 10, 7: mid 9, σ √2, lower 7.59: close 7 below: long
# bar 4: window 10, 7, 8: mid 8.33: close 8 below mid: hold
# bar 5: window 7, 8, 10: mid 8.33, upper 9.58: close 10 >= mid exits; > upper: short
# bar 6: window 8, 10, 13: mid 10.33: close 13 above mid: hold the short
# bar 7: window 10, 13, 10: mid 11: close 10 <= mid: exit; lower 9.59: no long
BOLLINGER_PATH = [10, 10, 10, 7, 8, 10, 13, 10]


def test_bollinger_reversion_long_only_hand_path(make_bars: MakeBars) -> None:
    side = BollingerReversion({"period": 3, "k": 1.0}).signals(make_bars(BOLLINGER_PATH))
    assert side.tolist() == [0, 0, 0, 1, 1, 0, 0, 0]


def test_bollinger_reversion_with_shorts_hand_path(make_bars: MakeBars) -> None:
    strategy = BollingerReversion({"period": 3, "k": 1.0, "allow_short": True})
    assert strategy.signals(make_bars(BOLLINGER_PATH)).tolist() == [0, 0, 0, 1, 1, -1, -1, 0]


def test_bollinger_reversion_flat_prices_never_trade(make_bars: MakeBars) -> None:
    # σ = 0: both bands equal the close, which is never strictly outside them.
    strategy = BollingerReversion({"period": 3, "allow_short": True})
    assert not strategy.signals(make_bars([5.0] * 10)).any()


@pytest.mark.parametrize(("period", "k"), [(2, 0.5), (3, 1.0), (20, 2.0), (50, 1.5)])
@pytest.mark.parametrize("allow_short", [False, True])
def test_fused_bollinger_equals_band_reversion_on_the_indicator(
    period: int, k: float, allow_short: bool
) -> None:
    rng = np.random.default_rng(period)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 5_000)))
    close[[3, 400, 401, 4_000]] = np.nan  # gaps must be handled the same way
    mid, upper, lower = indicators.bollinger(close, period, k)
    expected = band_reversion(close, lower, mid, upper, allow_short)
    np.testing.assert_array_equal(bollinger_reversion_side(close, period, k, allow_short), expected)
    assert expected.any()
