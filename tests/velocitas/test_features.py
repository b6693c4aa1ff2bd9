"""velocitas.features: no look-ahead, reference values, stable spec hash."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from velocitas.domain.bars import BarArrays
from velocitas.features import FeatureSpec, align_sentiment, build_features
from velocitas.indicators import rsi


def _bars(n: int, seed: int = 7) -> BarArrays:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.005, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.005, n))
    volume = rng.lognormal(8.0, 1.0, n)
    opened_at = np.arange(n, dtype=np.int64) * 60_000_000_000
    return BarArrays("TEST", "1m", opened_at, open_, high, low, close, volume)


def test_build_features_cut_anywhere_changes_no_earlier_row() -> None:
    bars = _bars(6000)
    sentiment = np.where(np.arange(6000) % 7 == 0, np.sin(np.arange(6000.0)), np.nan)
    full = build_features(bars, sentiment=sentiment)
    rng = np.random.default_rng(1)
    # Cuts right around the warm-up, around the resummation boundary (4096) and at random.
    cuts = [1, 2, 30, 79, 80, 81, 4095, 4096, 4097, *rng.integers(1, 6000, 40).tolist()]
    for cut in cuts:
        part = build_features(bars.slice(0, cut), sentiment=sentiment[:cut])
        assert np.array_equal(part, full[:cut]), f"row changed when data was cut at {cut}"


def test_build_features_returns_match_pandas_reference() -> None:
    bars = _bars(3000)
    spec = FeatureSpec()
    features = build_features(bars, spec)
    log_ret = np.r_[0.0, np.diff(np.log(bars.close))]
    sigma = pd.Series(log_ret).rolling(spec.volatility_window).std(ddof=0).to_numpy()
    expected = np.clip(log_ret / sigma, -spec.clip, spec.clip)
    start = spec.warmup
    for k in range(spec.return_window):
        column = spec.names.index(f"ret_{k}")
        np.testing.assert_allclose(
            features[start:, column], expected[start - k : len(expected) - k], atol=1e-5
        )


def test_build_features_volume_rsi_macd_match_reference() -> None:
    bars = _bars(3000)
    spec = FeatureSpec()
    features = build_features(bars, spec)
    start = spec.warmup
    log_vol = pd.Series(np.log1p(bars.volume))
    window = log_vol.rolling(spec.volume_window)
    z = ((log_vol - window.mean()) / window.std(ddof=0)).clip(-spec.clip, spec.clip).to_numpy()
    np.testing.assert_allclose(features[start:, spec.names.index("volume_z")], z[start:], atol=1e-5)
    expected_rsi = (rsi(bars.close, spec.rsi_period) - 50.0) / 50.0
    np.testing.assert_allclose(
        features[start:, spec.names.index("rsi")], expected_rsi[start:], atol=1e-6
    )
    close = pd.Series(bars.close)
    line = (
        close.ewm(span=spec.macd_fast, adjust=False).mean()
        - close.ewm(span=spec.macd_slow, adjust=False).mean()
    )
    np.testing.assert_allclose(
        features[start:, spec.names.index("macd")],
        np.clip(line / close * spec.macd_scale, -spec.clip, spec.clip)[start:],
        atol=1e-5,
    )


def test_build_features_flat_prices_and_zero_volume_stay_finite() -> None:
    n = 500
    flat = np.full(n, 10.0)
    bars = BarArrays(
        "FLAT", "1h", np.arange(n, dtype=np.int64), flat, flat, flat, flat, np.zeros(n)
    )
    features = build_features(bars)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()
    spec = FeatureSpec()
    assert np.all(features[:, : spec.return_window] == 0.0)
    assert np.all(features[:, spec.names.index("volume_z")] == 0.0)


def test_build_features_without_sentiment_fills_zero_slot() -> None:
    bars = _bars(400)
    spec = FeatureSpec()
    column = spec.names.index("sentiment")
    assert np.all(build_features(bars, spec)[:, column] == 0.0)
    scores = np.full(400, np.nan)
    scores[200:] = 0.25
    with_scores = build_features(bars, spec, sentiment=scores)
    assert np.all(with_scores[:200, column] == 0.0)
    assert np.all(with_scores[200:, column] == np.float32(0.25))


def test_build_features_sentiment_of_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="sentiment"):
        build_features(_bars(100), sentiment=np.zeros(99))


def test_align_sentiment_uses_only_scores_known_at_close() -> None:
    closes = np.array([100, 200, 300, 400], dtype=np.int64)
    scored_at = np.array([150, 200, 201, 350], dtype=np.int64)
    scores = np.array([0.1, 0.2, 0.3, 0.4])
    aligned = align_sentiment(closes, scored_at, scores)
    # Bar closing at 200 sees the score stamped at 200, not the one at 201.
    np.testing.assert_array_equal(aligned, [np.nan, 0.2, 0.3, 0.4])


def test_align_sentiment_unsorted_times_are_refused() -> None:
    with pytest.raises(ValueError, match="sorted"):
        align_sentiment(np.array([1]), np.array([5, 3]), np.array([0.1, 0.2]))


def test_feature_spec_hash_is_stable_across_processes() -> None:
    spec = FeatureSpec()
    code = "from velocitas.features import FeatureSpec; print(FeatureSpec().spec_hash())"
    other = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert other == spec.spec_hash()
    assert len(other) == 64


def test_feature_spec_hash_changes_with_any_parameter() -> None:
    base = FeatureSpec()
    variants = [
        FeatureSpec(return_window=8),
        FeatureSpec(volatility_window=32),
        FeatureSpec(macd_scale=50.0),
        FeatureSpec(clip=3.0),
        FeatureSpec(version=base.version + 1),
    ]
    hashes = {v.spec_hash() for v in variants}
    assert base.spec_hash() not in hashes
    assert len(hashes) == len(variants)


def test_feature_spec_round_trips_through_dict() -> None:
    spec = FeatureSpec(return_window=4, rsi_period=7)
    again = FeatureSpec.from_dict(spec.to_dict())
    assert again == spec
    assert again.spec_hash() == spec.spec_hash()
    assert len(spec.names) == spec.n_features == build_features(_bars(50), spec).shape[1]


def test_feature_spec_inconsistent_names_are_refused() -> None:
    data = FeatureSpec().to_dict()
    data["names"] = data["names"][:-1]
    with pytest.raises(ValueError, match="names"):
        FeatureSpec.from_dict(data)


def test_feature_spec_bad_window_is_refused() -> None:
    with pytest.raises(ValueError, match="macd_fast"):
        FeatureSpec(macd_fast=30, macd_slow=26)
