"""Market regimes: no look-ahead, the measures behind them, and the regimes synth plants."""

from __future__ import annotations

import numpy as np
import pytest

from velocitas import indicators
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest
from velocitas.research.regimes import (
    TREND_SYNTH_LABELS,
    Regime,
    RegimeParams,
    classify_regimes,
    regime_labels,
)
from velocitas.synth import TREND_REGIMES, synth_bars, synth_regimes

_PARAMS = RegimeParams(window=20, adx_period=7, vol_lookback=1000, variance_lag=3)


def _walk(n: int, seed: int, drift: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(drift + rng.normal(0, 0.01, n)))
    high = close * np.exp(np.abs(rng.normal(0, 0.004, n)))
    low = close * np.exp(-np.abs(rng.normal(0, 0.004, n)))
    return high, low, close


def _planted(bars: int, seed: int) -> tuple[np.ndarray, ...]:
    table = synth_bars(bars, Timeframe.H1, seed, regimes=TREND_REGIMES, mean_regime_bars=400)
    path = synth_regimes(bars, Timeframe.H1, seed, regimes=TREND_REGIMES, mean_regime_bars=400)
    truth = np.array(TREND_SYNTH_LABELS)[path]
    columns = (np.array(table.column(c).to_pylist(), dtype=float) for c in ("high", "low", "close"))
    return (*columns, truth)


def test_classify_regimes_cut_anywhere_changes_no_earlier_bar() -> None:
    high, low, close = _walk(3_000, seed=3)
    full = classify_regimes(high, low, close, _PARAMS)
    rng = np.random.default_rng(0)
    for cut in [1, 2, 20, 21, 22, 40, 41, 79, 80, 81, *rng.integers(1, 3_000, 30).tolist()]:
        part = classify_regimes(high[:cut], low[:cut], close[:cut], _PARAMS)
        for name in full.__slots__:
            whole, prefix = getattr(full, name), getattr(part, name)
            assert np.array_equal(prefix, whole[:cut], equal_nan=True), f"{name} at cut {cut}"


def test_regime_labels_equal_classify_regimes() -> None:
    high, low, close = _walk(2_000, seed=4)
    full = classify_regimes(high, low, close, _PARAMS)
    labels, confidence = regime_labels(high, low, close, _PARAMS)
    assert np.array_equal(labels, full.labels)
    assert np.array_equal(confidence, full.confidence, equal_nan=True)


def test_classify_regimes_measures_match_their_definitions() -> None:
    high, low, close = _walk(1_000, seed=5)
    found = classify_regimes(high, low, close, _PARAMS)
    plus_di, minus_di, adx = indicators.dmi(high, low, close, 7)
    assert np.array_equal(found.adx, adx, equal_nan=True)
    assert np.array_equal(found.plus_di, plus_di, equal_nan=True)
    assert np.array_equal(found.minus_di, minus_di, equal_nan=True)
    returns = np.diff(np.log(close))
    for t in (30, 500, 999):
        window = returns[t - 20 : t]
        mean, sd = window.mean(), window.std()
        assert found.drift[t] == pytest.approx(mean, abs=1e-12)
        assert found.t_stat[t] == pytest.approx(mean / sd * np.sqrt(20), rel=1e-7)
        lagged = np.log(close[t - 19 : t + 1] / close[t - 22 : t - 2])
        assert found.variance_ratio[t] == pytest.approx(lagged.var() / (3 * sd**2), rel=1e-7)


def test_classify_regimes_warm_up_is_unknown() -> None:
    high, low, close = _walk(500, seed=6)
    found = classify_regimes(high, low, close, _PARAMS)
    warmup = _PARAMS.warmup
    assert (found.labels[:warmup] == Regime.UNKNOWN).all()
    assert np.isnan(found.confidence[:warmup]).all()
    assert (found.labels[warmup:] >= 0).all()
    assert ((found.confidence[warmup:] >= 0.5) & (found.confidence[warmup:] < 1)).all()


def test_classify_regimes_sees_a_steady_trend_and_a_calm_range() -> None:
    for drift, expected in ((0.008, Regime.TRENDING_UP), (-0.008, Regime.TRENDING_DOWN)):
        high, low, close = _walk(1_500, seed=7, drift=drift)
        labels, _ = regime_labels(high, low, close, _PARAMS)
        assert np.mean(labels[500:] == expected) > 0.8
    high, low, close = _walk(1_500, seed=7)
    labels, _ = regime_labels(high, low, close, _PARAMS)
    assert np.mean(labels[500:] == Regime.RANGING) > 0.6


def test_classify_regimes_flags_a_volatility_burst() -> None:
    high, low, close = _walk(3_000, seed=8)
    rng = np.random.default_rng(1)
    burst = close[2_000] * np.exp(np.cumsum(rng.normal(0, 0.04, 300)))
    close = np.concatenate([close[:2_000], burst, close[2_300:] * burst[-1] / close[2_300]])
    high, low = close * 1.002, close * 0.998
    labels, _ = regime_labels(high, low, close, _PARAMS)
    assert np.mean(labels[2_030:2_300] == Regime.VOLATILE) > 0.9
    assert np.mean(labels[1_500:2_000] == Regime.VOLATILE) < 0.3


@pytest.mark.slow
def test_classify_regimes_recovers_planted_trend_regimes() -> None:
    high, low, close, truth = _planted(20_000, seed=2)
    labels, _ = regime_labels(high, low, close)
    known = labels >= 0
    recalls = [np.mean(labels[known & (truth == k)] == k) for k in set(TREND_SYNTH_LABELS)]
    assert np.mean(recalls) > 0.7


def test_synth_regimes_follow_the_planted_drift() -> None:
    # The labels are those of the bars: each regime's mean return has its drift's sign.
    _, _, close, truth = _planted(8_000, seed=1)
    returns = np.diff(np.log(close))
    assert returns[truth[1:] == Regime.TRENDING_UP].mean() > 0.001
    assert returns[truth[1:] == Regime.TRENDING_DOWN].mean() < -0.001
    assert abs(returns[truth[1:] == Regime.RANGING].mean()) < 0.0005
    calm = returns[truth[1:] == Regime.RANGING].std()
    assert returns[truth[1:] == Regime.VOLATILE].std() > 2 * calm


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"window": 1}, "window"),
        ({"window": 10, "variance_lag": 10}, "variance_lag"),
        ({"volatile_percentile": 1.0}, "volatile_percentile"),
        ({"adx_period": 2.5}, "adx_period"),
    ],
)
def test_regime_params_refuse_nonsense(options: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        RegimeParams(**options)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_classify_regimes_refuses_non_positive_prices() -> None:
    high, low, close = _walk(100, seed=9)
    close[50] = 0.0
    with pytest.raises(InvalidRequest) as caught:
        regime_labels(high, low, close)
    assert caught.value.field == "close"
