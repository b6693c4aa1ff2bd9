from __future__ import annotations

from itertools import pairwise

import numpy as np

from velocitas.report.downsample import minmax_indices


def test_minmax_indices_short_series_keeps_everything() -> None:
    assert minmax_indices(np.arange(10.0), 20).tolist() == list(range(10))


def test_minmax_indices_keeps_extremes_ends_and_bound() -> None:
    rng = np.random.default_rng(3)
    values = np.cumsum(rng.normal(size=1_000_003))
    keep = minmax_indices(values, 20_000)
    assert len(keep) <= 20_000
    assert bool(np.all(np.diff(keep) > 0))
    assert keep[0] == 0
    assert keep[-1] == len(values) - 1
    assert int(np.argmax(values)) in keep
    assert int(np.argmin(values)) in keep


def test_minmax_indices_ignores_nan_when_choosing_extremes() -> None:
    values = np.array([np.nan, 1.0, 5.0, -3.0, np.nan, 2.0] * 10)
    keep = minmax_indices(values, 8)
    assert 2 in keep
    assert 3 in keep


def _reference(data: np.ndarray, max_points: int) -> np.ndarray:
    """Bucket by bucket, as the definition says: first, lowest, highest, last (NaN never wins)."""
    edges = np.linspace(0, len(data), max_points // 4 + 1).astype(np.int64)
    keep = []
    for a, b in pairwise(edges):
        part = data[a:b]
        keep += [a, a + np.argmin(np.where(np.isnan(part), np.inf, part))]
        keep += [a + np.argmax(np.where(np.isnan(part), -np.inf, part)), b - 1]
    return np.unique(keep)


def test_minmax_indices_equals_the_bucket_by_bucket_definition_with_ties_and_nan() -> None:
    rng = np.random.default_rng(3)
    for trial in range(200):
        n = int(rng.integers(5, 3000))
        max_points = int(rng.integers(4, n))
        data = rng.integers(0, 4, n).astype(np.float64)  # few values: many ties
        if trial % 3 == 0:
            data[rng.random(n) < 0.3] = np.nan
        if trial % 7 == 0:
            data[: n // 2] = np.nan
        assert np.array_equal(minmax_indices(data, max_points), _reference(data, max_points))
