from __future__ import annotations

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
