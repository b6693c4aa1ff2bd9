"""Synthetic markets for tournament tests: a random walk, and one with a planted momentum edge."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from velocitas.domain.bars import BarArrays

START = datetime(2024, 1, 1, tzinfo=UTC)
HOUR_NS = 3_600 * 10**9


def bars_from_returns(symbol: str, returns: np.ndarray) -> BarArrays:
    """Hourly bars from START whose close-to-close returns are `returns` (open: last close)."""
    close = 100.0 * np.cumprod(1.0 + returns)
    open_ = np.concatenate([[100.0], close[:-1]])
    times = np.int64(START.timestamp() * 10**9) + HOUR_NS * np.arange(len(returns), dtype=np.int64)
    return BarArrays(
        symbol, "1h", times, open_, np.maximum(open_, close), np.minimum(open_, close), close,
        np.ones(len(returns)),
    )  # fmt: skip


def random_walk(symbol: str, n: int, seed: int) -> BarArrays:
    return bars_from_returns(symbol, np.random.default_rng(seed).normal(0.0, 0.01, n))


def momentum_edge(symbol: str, n: int, seed: int, *, period: int = 10, edge: float = 0.003):
    """A walk whose next return leans +edge after `momentum(period)` would be long (the close
    above the close `period` bars back) and -edge otherwise: that strategy's planted edge."""
    noise = np.random.default_rng(seed).normal(0.0, 0.01, n)
    close = np.empty(n)
    returns = np.empty(n)
    price = 100.0
    for t in range(n):
        lean = 0.0
        if t > period:
            lean = edge if close[t - 1] > close[t - 1 - period] else -edge
        returns[t] = noise[t] + lean
        price *= 1.0 + returns[t]
        close[t] = price
    return bars_from_returns(symbol, returns)
