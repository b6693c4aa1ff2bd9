"""velocitas.indicators: hand-computed cases, agreement with the `ta` library, no look-ahead.

`ta` is an independent pandas implementation; where conventions are equal the values must be
equal to rounding. One difference is by design: `ta`'s RSI reads the missing change before
bar 0 as a zero change, so its first value comes at bar n−1 from a different seed; ours waits
for n real changes (first value at bar n, like TA-Lib). Both are Wilder recursions with
factor (1 − 1/n), so the gap shrinks geometrically: after 30·n bars it is below 1e-8.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import ta

from velocitas import indicators

NAN = np.nan


def _random_walk(n: int = 3_000, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    spread = close * rng.uniform(0.0, 0.01, n)
    high = close + spread * rng.uniform(0.0, 1.0, n)
    low = close - spread * rng.uniform(0.0, 1.0, n)
    return high, low, close


def _same(ours: np.ndarray, theirs: pd.Series | np.ndarray, *, from_bar: int = 0) -> None:
    np.testing.assert_allclose(
        ours[from_bar:], np.asarray(theirs)[from_bar:], rtol=1e-10, atol=1e-10
    )


# --- hand-computed cases ---------------------------------------------------------------------


def test_sma_hand_computed() -> None:
    out = indicators.sma(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 3)
    np.testing.assert_allclose(out, [NAN, NAN, 2.0, 3.0, 4.0])


def test_sma_nan_in_window_gives_nan_until_it_leaves() -> None:
    out = indicators.sma(np.array([NAN, 1.0, 2.0, 3.0, NAN, 5.0, 6.0, 7.0]), 2)
    np.testing.assert_allclose(out, [NAN, NAN, 1.5, 2.5, NAN, NAN, 5.5, 6.5])


def test_ema_hand_computed() -> None:
    # alpha = 2 / (3 + 1) = 0.5, seeded with 1: 1, 1.5, 2.25, 3.125, 4.0625; shown from bar 2.
    out = indicators.ema(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 3)
    np.testing.assert_allclose(out, [NAN, NAN, 2.25, 3.125, 4.0625])


def test_rsi_hand_computed() -> None:
    # changes +1 +1 −1 +1 +1; Wilder alpha 1/2 seeded with the first change:
    # avg up 1, 1, 0.5, 0.75, 0.875; avg down 0, 0, 0.5, 0.25, 0.125 (first shown after 2).
    out = indicators.rsi(np.array([1.0, 2.0, 3.0, 2.0, 3.0, 4.0]), 2)
    np.testing.assert_allclose(out, [NAN, NAN, 100.0, 50.0, 75.0, 87.5])


def test_macd_hand_computed() -> None:
    # fast EMA(1) is the price; slow EMA(3) from test_ema; line = 0.75, 0.875, 0.9375 from bar 2;
    # signal EMA(2), alpha 2/3, seeded with 0.75: 5/6 at bar 3, then 0.625 + 5/18 = 65/72.
    line, signal, hist = indicators.macd(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 1, 3, 2)
    np.testing.assert_allclose(line, [NAN, NAN, 0.75, 0.875, 0.9375])
    np.testing.assert_allclose(signal, [NAN, NAN, NAN, 5 / 6, 65 / 72])
    np.testing.assert_allclose(hist, [NAN, NAN, NAN, 0.875 - 5 / 6, 0.9375 - 65 / 72])


def test_bollinger_hand_computed() -> None:
    # each window is m−1, m, m+1: population σ = √(2/3)
    mid, upper, lower = indicators.bollinger(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 3, 2.0)
    sigma = np.sqrt(2.0 / 3.0)
    np.testing.assert_allclose(mid, [NAN, NAN, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(upper, [NAN, NAN, 2 + 2 * sigma, 3 + 2 * sigma, 4 + 2 * sigma])
    np.testing.assert_allclose(lower, [NAN, NAN, 2 - 2 * sigma, 3 - 2 * sigma, 4 - 2 * sigma])


def test_true_range_and_atr_hand_computed() -> None:
    high = np.array([3.0, 4.0, 5.0, 6.0])
    low = np.array([1.0, 2.0, 2.0, 5.0])
    close = np.array([2.0, 3.0, 4.0, 5.0])
    # bar 0: 3−1; bar 1: max(2, |4−2|, |2−2|); bar 2: max(3, |5−3|, |2−3|); bar 3: max(1, |6−4|, 1)
    np.testing.assert_allclose(indicators.true_range(high, low, close), [2.0, 2.0, 3.0, 2.0])
    # seed mean(2, 2) = 2; then (2·1 + 3) / 2 = 2.5; (2.5·1 + 2) / 2 = 2.25
    np.testing.assert_allclose(indicators.atr(high, low, close, 2), [NAN, 2.0, 2.5, 2.25])


def test_roc_hand_computed() -> None:
    out = indicators.roc(np.array([100.0, 110.0, 99.0, 121.0]), 2)
    np.testing.assert_allclose(out, [NAN, NAN, -1.0, 10.0])


def test_donchian_hand_computed() -> None:
    high = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    low = np.array([0.0, 2.0, 1.0, 3.0, 1.0])
    upper, lower = indicators.donchian(high, low, 3)
    np.testing.assert_allclose(upper, [NAN, NAN, 3.0, 5.0, 5.0])
    np.testing.assert_allclose(lower, [NAN, NAN, 0.0, 1.0, 1.0])


def test_indicators_shorter_than_window_are_all_nan() -> None:
    x = np.array([1.0, 2.0])
    for out in (
        indicators.sma(x, 3),
        indicators.ema(x, 3),
        indicators.rsi(x, 3),
        indicators.roc(x, 3),
    ):
        assert np.isnan(out).all()


# --- agreement with `ta` on random walks ---------------------------------------------------


@pytest.mark.parametrize("n", [2, 10, 50])
def test_sma_ema_match_ta(n: int) -> None:
    _, _, close = _random_walk()
    series = pd.Series(close)
    _same(indicators.sma(close, n), ta.trend.SMAIndicator(series, n).sma_indicator())
    _same(indicators.ema(close, n), ta.trend.EMAIndicator(series, n).ema_indicator())


@pytest.mark.parametrize("n", [2, 14, 30])
def test_rsi_matches_ta_after_convergence(n: int) -> None:
    _, _, close = _random_walk()
    ours = indicators.rsi(close, n)
    theirs = ta.momentum.RSIIndicator(pd.Series(close), n).rsi().to_numpy()
    assert np.isnan(ours[n - 1])
    assert not np.isnan(theirs[n - 1])  # ta starts one bar earlier
    assert not np.isnan(ours[n])
    settled = 30 * n
    np.testing.assert_allclose(ours[settled:], theirs[settled:], rtol=0, atol=1e-8)


def test_macd_matches_ta() -> None:
    _, _, close = _random_walk()
    ours = indicators.macd(close, 12, 26, 9)
    ref = ta.trend.MACD(pd.Series(close), window_slow=26, window_fast=12, window_sign=9)
    for mine, theirs in zip(ours, (ref.macd(), ref.macd_signal(), ref.macd_diff()), strict=True):
        _same(mine, theirs)


@pytest.mark.parametrize(("n", "k"), [(20, 2.0), (5, 1.5)])
def test_bollinger_matches_ta(n: int, k: float) -> None:
    _, _, close = _random_walk()
    mid, upper, lower = indicators.bollinger(close, n, k)
    ref = ta.volatility.BollingerBands(pd.Series(close), window=n, window_dev=k)
    _same(mid, ref.bollinger_mavg())
    _same(upper, ref.bollinger_hband())
    _same(lower, ref.bollinger_lband())


@pytest.mark.parametrize("n", [1, 14])
def test_atr_matches_ta(n: int) -> None:
    high, low, close = _random_walk()
    ours = indicators.atr(high, low, close, n)
    ref = ta.volatility.AverageTrueRange(pd.Series(high), pd.Series(low), pd.Series(close), n)
    assert np.isnan(ours[: n - 1]).all()  # ta writes 0 during warm-up
    _same(ours, ref.average_true_range(), from_bar=n - 1)


@pytest.mark.parametrize("n", [1, 12])
def test_roc_and_donchian_match_ta(n: int) -> None:
    high, low, close = _random_walk()
    _same(indicators.roc(close, n), ta.momentum.ROCIndicator(pd.Series(close), n).roc())
    upper, lower = indicators.donchian(high, low, n)
    ref = ta.volatility.DonchianChannel(pd.Series(high), pd.Series(low), pd.Series(close), n)
    _same(upper, ref.donchian_channel_hband())
    _same(lower, ref.donchian_channel_lband())


@pytest.mark.parametrize("n", [2, 14])
def test_dmi_matches_ta(n: int) -> None:
    high, low, close = _random_walk()
    plus_di, minus_di, adx = indicators.dmi(high, low, close, n)
    ref = ta.trend.ADXIndicator(pd.Series(high), pd.Series(low), pd.Series(close), n)
    assert np.isnan(plus_di[:n]).all()
    assert not np.isnan(plus_di[n])
    assert np.isnan(adx[: 2 * n - 1]).all()  # ta writes 0 during warm-up
    _same(plus_di, ref.adx_pos(), from_bar=n + 1)  # ta writes 0 at bar n
    _same(minus_di, ref.adx_neg(), from_bar=n + 1)
    _same(adx, ref.adx(), from_bar=2 * n - 1)


# --- no look-ahead ---------------------------------------------------------------------------

_HIGH, _LOW, _CLOSE = _random_walk(400, seed=11)

_SERIES: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, ...]]] = {
    "sma": lambda h, lo, c: (indicators.sma(c, 9),),
    "ema": lambda h, lo, c: (indicators.ema(c, 9),),
    "rsi": lambda h, lo, c: (indicators.rsi(c, 9),),
    "macd": lambda h, lo, c: indicators.macd(c, 5, 13, 4),
    "bollinger": lambda h, lo, c: indicators.bollinger(c, 9, 2.0),
    "atr": lambda h, lo, c: (indicators.atr(h, lo, c, 9),),
    "roc": lambda h, lo, c: (indicators.roc(c, 9),),
    "donchian": lambda h, lo, c: indicators.donchian(h, lo, 9),
    "dmi": lambda h, lo, c: indicators.dmi(h, lo, c, 9),
}


@pytest.mark.parametrize("name", sorted(_SERIES))
def test_indicator_never_looks_ahead(name: str) -> None:
    compute = _SERIES[name]
    full = compute(_HIGH, _LOW, _CLOSE)
    for t in range(1, len(_CLOSE) + 1, 7):
        prefix = compute(_HIGH[:t], _LOW[:t], _CLOSE[:t])
        for whole, part in zip(full, prefix, strict=True):
            assert len(part) == t
            np.testing.assert_array_equal(part, whole[:t])  # bit-identical, NaN included


def test_rolling_max_min_match_pandas_with_gaps() -> None:
    high, _, _ = _random_walk(2_000, seed=4)
    high[[0, 5, 6, 1_000]] = NAN  # windows holding a NaN are NaN, as in pandas
    for n in (1, 3, 20, 64):
        _same(indicators.rolling_max(high, n), pd.Series(high).rolling(n).max())
        _same(indicators.rolling_min(high, n), pd.Series(high).rolling(n).min())


def test_rolling_max_hand_computed() -> None:
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    np.testing.assert_allclose(indicators.rolling_max(x, 3), [NAN, NAN, 4, 4, 5, 9, 9, 9])
    np.testing.assert_allclose(indicators.rolling_min(x, 3), [NAN, NAN, 1, 1, 1, 1, 2, 2])


def test_macd_is_the_ema_arithmetic() -> None:
    # the fused loop must equal the textbook composition bit for bit, gaps included
    _, _, close = _random_walk(3_000, seed=9)
    close[[0, 10, 11, 2_000]] = NAN
    line, signal, hist = indicators.macd(close, 12, 26, 9)
    expected_line = indicators.ema(close, 12) - indicators.ema(close, 26)
    expected_signal = indicators.ema(expected_line, 9)
    np.testing.assert_array_equal(line, expected_line)
    np.testing.assert_array_equal(signal, expected_signal)
    np.testing.assert_array_equal(hist, expected_line - expected_signal)
