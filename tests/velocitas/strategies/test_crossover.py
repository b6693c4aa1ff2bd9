"""Crossover strategies on price paths whose crossings were worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tests.velocitas.strategies.conftest import MakeBars
from velocitas import indicators
from velocitas.strategies.crossover import (
    EmaCross,
    MacdCross,
    SmaCross,
    cross_side,
    ema_cross_side,
    macd_cross_side,
    sma_cross_side,
)

# SMA(2) / SMA(3) by bar: 2: 10/10 (equal), 3: 9.5/9.67 (below), 4-6 below,
# 7: 8.5/8 (crosses above), 8-10 above, 11: 9.5/10 (crosses below), 12 below.
SMA_PATH = [10, 10, 10, 9, 8, 7, 8, 9, 10, 11, 10, 9, 8]


def test_sma_cross_long_only_hand_path(make_bars: MakeBars) -> None:
    side = SmaCross({"fast": 2, "slow": 3}).signals(make_bars(SMA_PATH))
    assert side.dtype == np.int8
    assert side.tolist() == [0] * 7 + [1, 1, 1, 1] + [0, 0]


def test_sma_cross_with_shorts_hand_path(make_bars: MakeBars) -> None:
    side = SmaCross({"fast": 2, "slow": 3, "allow_short": True}).signals(make_bars(SMA_PATH))
    assert side.tolist() == [0] * 7 + [1, 1, 1, 1] + [-1, -1]


def test_sma_cross_waits_for_a_real_crossing(make_bars: MakeBars) -> None:
    # Fast above slow from the first comparable bar, but it never crossed: stay flat.
    side = SmaCross({"fast": 2, "slow": 3}).signals(make_bars(np.arange(1.0, 11.0)))
    assert not side.any()


def test_cross_side_equal_bars_do_not_break_the_order() -> None:
    # below, equal, above: the move from below to above is one crossing, at the third bar.
    side = cross_side(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0]))
    assert side.tolist() == [0, 0, 1]


def test_ema_cross_hand_path(make_bars: MakeBars) -> None:
    # fast EMA(1) is the price; EMA(3), alpha 1/2: 10, 10, 9, 8.5, 12.25, 14.125, 9.0625, 6.53
    # price vs EMA(3) from bar 2: below, below, above (cross up at 4), above, below (cross at 6)
    path = [10, 10, 8, 8, 16, 16, 4, 4]
    assert EmaCross({"fast": 1, "slow": 3}).signals(make_bars(path)).tolist() == [
        0, 0, 0, 0, 1, 1, 0, 0,
    ]  # fmt: skip
    assert EmaCross({"fast": 1, "slow": 3, "allow_short": True}).signals(
        make_bars(path)
    ).tolist() == [0, 0, 0, 0, 1, 1, -1, -1]


def test_macd_cross_hand_path(make_bars: MakeBars) -> None:
    # fast 1, slow 2 (alpha 2/3): EMA(2) = 10, 10, 12, 12.67, 8.89, 7.63
    # line = 0, 1, 0.33, -1.89, -0.63 (bars 1-5); signal EMA(2) of the line from bar 2:
    # 0.67, 0.44, -1.11, -0.79. Line vs signal: above (2), below (3: cross down), below,
    # above (5: cross up).
    path = [10, 10, 13, 13, 7, 7]
    long_only = MacdCross({"fast": 1, "slow": 2, "signal": 2}).signals(make_bars(path))
    shorts = MacdCross({"fast": 1, "slow": 2, "signal": 2, "allow_short": True})
    assert long_only.tolist() == [0, 0, 0, 0, 0, 1]
    assert shorts.signals(make_bars(path)).tolist() == [0, 0, 0, -1, -1, 1]


@pytest.mark.parametrize("cls", [SmaCross, EmaCross, MacdCross])
def test_crossover_defaults_are_valid(cls: type[SmaCross]) -> None:
    params = cls.Params()
    assert params.fast < params.slow
    assert params.allow_short is False


def _walk_with_gaps(n: int = 5_000) -> np.ndarray:
    rng = np.random.default_rng(3)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    close[[0, 1, 700, 701, 702, 2_500]] = np.nan  # missing values must be handled the same way
    return close


@pytest.mark.parametrize(("fast", "slow"), [(1, 2), (5, 20), (10, 50)])
def test_fused_kernels_equal_crossings_of_the_indicators(fast: int, slow: int) -> None:
    close = _walk_with_gaps()
    np.testing.assert_array_equal(
        sma_cross_side(close, fast, slow),
        cross_side(indicators.sma(close, fast), indicators.sma(close, slow)),
    )
    np.testing.assert_array_equal(
        ema_cross_side(close, fast, slow),
        cross_side(indicators.ema(close, fast), indicators.ema(close, slow)),
    )
    line, signal, _ = indicators.macd(close, fast, slow, 4)
    np.testing.assert_array_equal(macd_cross_side(close, fast, slow, 4), cross_side(line, signal))
    assert sma_cross_side(close, fast, slow).any()  # the comparison is not between zeros


@pytest.mark.parametrize(("fast", "slow"), [(1, 2), (10, 50), (50, 10), (7, 7), (30, 6_000)])
@pytest.mark.parametrize("nan_at", [None, 3, 4_000])
def test_sma_cross_finite_fast_path_equals_the_crossings_of_the_indicators(
    fast: int, slow: int, nan_at: int | None
) -> None:
    # Finite closes take the loop without NaN bookkeeping; a NaN anywhere (in the warm-up or
    # long after it) must send the whole series back to the general loop.
    rng = np.random.default_rng(11)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 5_000)))
    if nan_at is not None:
        close[nan_at] = np.nan
    expected = cross_side(indicators.sma(close, fast), indicators.sma(close, slow))
    np.testing.assert_array_equal(sma_cross_side(close, fast, slow), expected)
    if fast != slow and slow < 5_000:
        assert expected.any()  # the comparison is not between zeros


@pytest.mark.parametrize(("fast", "slow"), [(2, 4), (3, 6), (10, 50)])
def test_sma_cross_finite_fast_path_keeps_exact_ties(fast: int, slow: int) -> None:
    # Small whole prices make the two averages exactly equal (no side) or a hair apart over
    # and over: the products' shortcut must give way to the division in every such case.
    rng = np.random.default_rng(5)
    close = rng.integers(1, 4, 20_000).astype(np.float64)
    close[::7] += 1e-13  # and differences far below the shortcut's margin
    expected = cross_side(indicators.sma(close, fast), indicators.sma(close, slow))
    np.testing.assert_array_equal(sma_cross_side(close, fast, slow), expected)
    assert expected.any()
