"""Synthetic bars, signals and specs for the engine tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from velocitas.domain.bars import BarArrays
from velocitas.engine.spec import BacktestSpec
from velocitas.indicators import sma

START = datetime(2024, 1, 1, tzinfo=UTC)
START_NS = int(START.timestamp()) * 1_000_000_000
MINUTE_NS = 60 * 1_000_000_000


def gbm_bars(
    n: int, *, seed: int = 7, symbol: str = "BTCUSDT", step_ns: int = MINUTE_NS, vol: float = 0.002
) -> BarArrays:
    """Seeded geometric Brownian motion bars; each open is the previous close (no gaps)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.normal(0.0, vol, n)) * close
    high = np.maximum(open_, close) + wick * rng.random(n)
    low = np.minimum(open_, close) - wick * rng.random(n)
    opened_at = START_NS + step_ns * np.arange(n, dtype=np.int64)
    return BarArrays(symbol, "1m", opened_at, open_, high, low, close, rng.random(n) * 10)


def bars_from(rows: list[tuple[float, float, float, float]], symbol: str = "X") -> BarArrays:
    """Hand-written (open, high, low, close) rows, one minute apart."""
    ohlc = np.asarray(rows, dtype=np.float64)
    n = len(rows)
    opened_at = START_NS + MINUTE_NS * np.arange(n, dtype=np.int64)
    return BarArrays(
        symbol, "1m", opened_at, ohlc[:, 0], ohlc[:, 1], ohlc[:, 2], ohlc[:, 3], np.ones(n)
    )


def sma_cross(close: np.ndarray, fast: int, slow: int, *, short: bool = False) -> np.ndarray:
    """Target side +1 while SMA(fast) > SMA(slow), else 0 (or -1 with `short`)."""
    f, s = sma(close, fast), sma(close, slow)
    down = -1 if short else 0
    sides = np.where(f > s, 1, np.where(f < s, down, 0)).astype(np.int8)
    sides[np.isnan(s)] = 0
    return sides


def spec(symbols: tuple[str, ...] = ("BTCUSDT",), **overrides: Any) -> BacktestSpec:
    """A spec over 2024 with the given overrides (plain dicts for nested models)."""
    data: dict[str, Any] = {
        "legs": [{"symbol": s, "strategy": {"name": "given", "params": {}}} for s in symbols],
        "timeframe": "1m",
        "start": START,
        "end": datetime(2030, 1, 1, tzinfo=UTC),
        "initial_cash": Decimal(10_000),
    }
    data.update(overrides)
    return BacktestSpec.model_validate(data)


def run_rows(
    rows: list[tuple[float, float, float, float]], sides: list[int], **overrides: Any
) -> Any:
    """run_signals on hand-written bars; whole units, no fees unless overridden."""
    from velocitas.engine import run_signals

    base: dict[str, Any] = {
        "sizing": {"mode": "fixed_quantity", "value": "1", "lot_size": "1"},
        "fees": {"rate": "0"},
    }
    bars = bars_from(rows, symbol="X")
    return run_signals(spec(("X",), **(base | overrides)), [bars], [np.asarray(sides, np.int8)])
