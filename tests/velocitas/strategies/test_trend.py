"""Momentum and Donchian breakout on hand-computed paths."""

from __future__ import annotations

from tests.velocitas.strategies.conftest import MakeBars
from velocitas.strategies.trend import DonchianBreakout, Momentum

# ROC(2) from bar 2: +10 %, 0 %, −18.2 %, 0 %
MOMENTUM_PATH = [100, 100, 110, 100, 90, 100]


def test_momentum_hand_path(make_bars: MakeBars) -> None:
    bars = make_bars(MOMENTUM_PATH)
    assert Momentum({"period": 2, "threshold": 5}).signals(bars).tolist() == [0, 0, 1, 0, 0, 0]
    shorts = Momentum({"period": 2, "threshold": 5, "allow_short": True})
    assert shorts.signals(bars).tolist() == [0, 0, 1, 0, -1, 0]


def test_momentum_threshold_is_a_dead_band(make_bars: MakeBars) -> None:
    bars = make_bars(MOMENTUM_PATH)
    assert Momentum({"period": 2, "threshold": 10}).signals(bars).tolist() == [0] * 6


# Entry channel 3 bars, exit channel 2 bars, both from the bars before the current one:
# bar 3: 12 > max(10, 11, 10): long; bar 4: 11 >= min(10, 12): hold;
# bar 5: 10 < min(12, 11): exit (and 10 is not < min(10, 12, 11));
# bar 6: 9 < min(12, 11, 10): short; bar 7: 8 <= max(10, 9): hold;
# bar 8: 12 > max(9, 8): exit the short, and 12 > max(10, 9, 8): long.
DONCHIAN_PATH = [10, 11, 10, 12, 11, 10, 9, 8, 12]


def test_donchian_breakout_long_only_hand_path(make_bars: MakeBars) -> None:
    strategy = DonchianBreakout({"period": 3, "exit_period": 2})
    assert strategy.signals(make_bars(DONCHIAN_PATH)).tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 1]


def test_donchian_breakout_with_shorts_hand_path(make_bars: MakeBars) -> None:
    strategy = DonchianBreakout({"period": 3, "exit_period": 2, "allow_short": True})
    assert strategy.signals(make_bars(DONCHIAN_PATH)).tolist() == [0, 0, 0, 1, 1, 0, -1, -1, 1]


def test_donchian_breakout_reads_highs_and_lows(make_bars: MakeBars) -> None:
    # Closes rise: without wicks bar 3 breaks out (13 > max(10, 11, 12)). A wick to 20 at
    # bar 1 holds the channel high at 20 for bars 2-4; bar 5 sees max(12, 13, 14) and 15 > 14.
    close = [10, 11, 12, 13, 14, 15]
    strategy = DonchianBreakout({"period": 3, "exit_period": 3})
    assert strategy.signals(make_bars(close)).tolist() == [0, 0, 0, 1, 1, 1]
    high = [10, 20, 12, 13, 14, 15]
    assert strategy.signals(make_bars(close, high=high)).tolist() == [0, 0, 0, 0, 0, 1]
