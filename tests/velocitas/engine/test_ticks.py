"""velocitas.engine.ticks: the seeded Brownian bridge inside a bar, and the walk along it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.velocitas.engine.market import gbm_bars
from velocitas.engine.codes import (
    PATH_ADAPTIVE,
    REASON_STOP_LOSS,
    REASON_TAKE_PROFIT,
    REASON_TRAILING_STOP,
    STOP_NONE,
    STOP_PERCENT,
)
from velocitas.engine.intrabar import high_first
from velocitas.engine.ticks import (
    bar_ticks,
    series_ticks,
    symbol_key,
    tick_times,
    ticks_per_bar,
    walk_bridge,
    walk_ticks,
)

BARS = gbm_bars(2_000, seed=11)
NAN = float("nan")


def _series(seed: int = 3, symbol: str = "BTCUSDT", n: int = 60) -> np.ndarray:
    return series_ticks(seed, symbol, BARS.opened_at, BARS.open, BARS.high, BARS.low, BARS.close, n)


def test_ticks_start_at_the_open_end_at_the_close_and_stay_inside_the_bar() -> None:
    ticks = _series()
    np.testing.assert_array_equal(ticks[:, 0], BARS.open)
    np.testing.assert_array_equal(ticks[:, -1], BARS.close)
    assert (ticks >= BARS.low[:, None]).all()
    assert (ticks <= BARS.high[:, None]).all()


def test_ticks_print_the_high_and_the_low_exactly() -> None:
    ticks = _series(n=17)
    np.testing.assert_array_equal(ticks.max(axis=1), BARS.high)
    np.testing.assert_array_equal(ticks.min(axis=1), BARS.low)


def test_the_extremes_come_in_the_adaptive_path_models_order() -> None:
    ticks = _series()
    orders = set()
    for b in range(len(BARS)):
        highs = np.flatnonzero(ticks[b] == BARS.high[b])
        lows = np.flatnonzero(ticks[b] == BARS.low[b])
        if BARS.open[b] in (BARS.high[b], BARS.low[b]) or BARS.close[b] in (
            BARS.high[b],
            BARS.low[b],
        ):
            continue  # a corner is an extreme: the order is moot
        first_is_high = high_first(0, BARS.open[b], BARS.high[b], BARS.low[b], PATH_ADAPTIVE)
        orders.add(first_is_high)
        if first_is_high:
            assert highs.min() < lows.max()
        else:
            assert lows.min() < highs.max()
    assert orders == {True, False}


def test_ticks_are_deterministic_and_depend_on_seed_symbol_and_time() -> None:
    base = _series()
    np.testing.assert_array_equal(base, _series())
    assert not np.array_equal(base, _series(seed=4))
    assert not np.array_equal(base, _series(symbol="ETHUSDT"))
    shifted = series_ticks(
        3, "BTCUSDT", BARS.opened_at + 60_000_000_000, BARS.open, BARS.high, BARS.low,
        BARS.close, 60,
    )  # fmt: skip
    assert not np.array_equal(base, shifted)
    # One bar alone gives the row of the series (no hidden state between bars).
    out = np.empty(60)
    b = 1234
    bar_ticks(
        3, symbol_key("BTCUSDT"), int(BARS.opened_at[b]), BARS.open[b], BARS.high[b],
        BARS.low[b], BARS.close[b], 60, out,
    )  # fmt: skip
    np.testing.assert_array_equal(out, base[b])


def test_symbol_key_is_stable_63_bit_and_distinct() -> None:
    assert symbol_key("BTCUSDT") == 1311013130031938654  # blake2b: the same on every machine
    keys = {symbol_key(s) for s in ("BTCUSDT", "ETHUSDT", "AAPL", "é", "")}
    assert len(keys) == 5
    assert all(0 <= k < 2**63 for k in keys)


def test_tick_times_and_ticks_per_bar() -> None:
    times = tick_times(1_000, 60_000_000_000, 60)
    assert times[0] == 1_000
    assert times[1] - times[0] == 1_000_000_000
    assert times[-1] == 1_000 + 59_000_000_000
    assert ticks_per_bar("1m") == 60
    assert ticks_per_bar("1h") == 240
    assert ticks_per_bar("1m", 12) == 12


def test_fewer_than_four_ticks_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        _series(n=3)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**53 - 1),
    opened=st.integers(0, 2**62),
    low=st.floats(1e-6, 1e6),
    spread=st.floats(0.0, 2.0),
    where=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    n=st.integers(4, 400),
)
def test_any_bar_keeps_its_corners_and_its_range(
    seed: int, opened: int, low: float, spread: float, where: tuple[float, float], n: int
) -> None:
    high = low * (1.0 + spread)
    o = low + where[0] * (high - low)
    c = low + where[1] * (high - low)
    o, c = min(max(o, low), high), min(max(c, low), high)
    out = np.empty(n)
    bar_ticks(seed, 42, opened, o, high, low, c, n, out)
    assert out[0] == o
    assert out[-1] == c
    assert out.min() == low
    assert out.max() == high
    assert np.isfinite(out).all()


def test_walk_ticks_fires_at_the_first_tick_beyond_a_level_at_that_ticks_price() -> None:
    ticks = np.array([100.0, 101.0, 99.5, 98.9, 97.0, 102.0])
    reason, price, extreme, at = walk_ticks(1, ticks, 99.0, NAN, STOP_NONE, 0.0, NAN, 100.0)
    assert (reason, price, at) == (REASON_STOP_LOSS, 98.9, 3)  # not the level 99: the print
    assert extreme == 101.0
    reason, price, _, at = walk_ticks(1, ticks, NAN, 101.5, STOP_NONE, 0.0, NAN, 100.0)
    assert (reason, price, at) == (REASON_TAKE_PROFIT, 102.0, 5)
    # Short: the mirror image.
    reason, price, extreme, at = walk_ticks(-1, ticks, 101.0, NAN, STOP_NONE, 0.0, NAN, 100.0)
    assert (reason, price, extreme, at) == (REASON_STOP_LOSS, 101.0, 100.0, 1)


def test_walk_ticks_trailing_stop_follows_each_tick() -> None:
    ticks = np.array([100.0, 104.0, 110.0, 105.0, 98.0])
    # 5 % behind the best tick: 110 sets 104.5; 105 holds; 98 fires.
    reason, price, extreme, at = walk_ticks(1, ticks, NAN, NAN, STOP_PERCENT, 0.05, NAN, 100.0)
    assert (reason, price, extreme, at) == (REASON_TRAILING_STOP, 98.0, 110.0, 4)
    # A gap at the open beyond the stop fills at the open, as walk_bar does.
    gap = np.array([90.0, 95.0, 96.0, 97.0])
    reason, price, _, at = walk_ticks(1, gap, 95.0, NAN, STOP_NONE, 0.0, NAN, 100.0)
    assert (reason, price, at) == (REASON_STOP_LOSS, 90.0, 0)
    reason, price, extreme, at = walk_ticks(1, gap, 80.0, 120.0, STOP_NONE, 0.0, NAN, 100.0)
    assert reason == 0
    assert np.isnan(price)
    assert at == -1
    assert extreme == 100.0


@pytest.mark.parametrize("side", [1, -1])
def test_walk_bridge_equals_walking_the_ticks_it_skips_or_draws(side: int) -> None:
    """Its shortcut (no ticks drawn when no level can fire) gives what the walk gives."""
    ticks = _series(seed=9, n=30)
    key = symbol_key("BTCUSDT")
    rng = np.random.default_rng(5)
    fired = 0
    for b in range(0, len(BARS), 3):
        ref = BARS.open[b] * (1 + rng.normal(0, 0.002))
        sl = ref * (1 - side * rng.uniform(0.0005, 0.004))
        tp = ref * (1 + side * rng.uniform(0.0005, 0.004))
        trail = rng.uniform(0.001, 0.004)
        args = (sl, tp, STOP_PERCENT, trail, NAN, ref)
        want = walk_ticks(side, ticks[b], *args)
        got = walk_bridge(
            9, key, int(BARS.opened_at[b]), 30, side, BARS.open[b], BARS.high[b], BARS.low[b],
            BARS.close[b], *args,
        )  # fmt: skip
        assert got[0] == want[0]
        assert got[2] == want[2]
        if want[0]:
            fired += 1
            assert got[1] == want[1]
    assert 0 < fired < len(range(0, len(BARS), 3))
