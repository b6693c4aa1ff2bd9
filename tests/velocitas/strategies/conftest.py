"""Bars for strategy tests: `make_bars(close, high=None, low=None)` builds a `BarArrays`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from velocitas.domain.bars import BarArrays

MakeBars = Callable[..., BarArrays]


def _make_bars(
    close: Sequence[float],
    high: Sequence[float] | None = None,
    low: Sequence[float] | None = None,
) -> BarArrays:
    c = np.asarray(close, dtype=np.float64)
    h = c.copy() if high is None else np.asarray(high, dtype=np.float64)
    lo = c.copy() if low is None else np.asarray(low, dtype=np.float64)
    opened_at = np.arange(len(c), dtype=np.int64) * 60_000_000_000
    return BarArrays("TEST", "1m", opened_at, c.copy(), h, lo, c, np.ones(len(c)))


@pytest.fixture
def make_bars() -> MakeBars:
    return _make_bars


@pytest.fixture(scope="session")
def random_bars() -> BarArrays:
    """600 one-minute bars of a random walk with a realistic high/low spread."""
    rng = np.random.default_rng(2026)
    n = 600
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    spread = close * rng.uniform(0.0, 0.01, n)
    return _make_bars(
        close, close + spread * rng.uniform(0, 1, n), close - spread * rng.uniform(0, 1, n)
    )
