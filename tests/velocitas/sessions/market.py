"""Bars and session specs for the session tests: synthetic (GBM) and real-shaped (the sample
data's generator, `velocitas.synth`, with GARCH volatility and regimes on an 8-decimal grid)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from velocitas.domain.bars import BarArrays
from velocitas.domain.timeframe import Timeframe
from velocitas.sessions.spec import SessionSpec
from velocitas.synth import DEFAULT_START, synth_bars

START = DEFAULT_START
MINUTE_NS = 60_000_000_000


def gbm_bars(n: int, *, seed: int, symbol: str, start: datetime = START) -> BarArrays:
    """Seeded geometric Brownian motion 1m bars; each open is the previous close."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.002, n)) * close
    high = np.maximum(open_, close) + wick * rng.random(n)
    low = np.minimum(open_, close) - wick * rng.random(n)
    first = int(start.timestamp()) * 1_000_000_000
    opened_at = first + MINUTE_NS * np.arange(n, dtype=np.int64)
    return BarArrays(symbol, "1m", opened_at, open_, high, low, close, rng.random(n) * 10)


def sample_bars(n: int, *, seed: int, symbol: str) -> BarArrays:
    """`n` 1m bars of the sample data's generator (what `velocitas data synth` stores)."""
    table = synth_bars(n, Timeframe.M1, seed=seed)
    opened = [
        datetime.fromisoformat(t.replace("Z", "+00:00")) for t in table["opened_at"].to_pylist()
    ]
    ns = np.asarray([int(t.timestamp()) * 1_000_000_000 for t in opened], dtype=np.int64)
    cols = [
        np.asarray([float(x) for x in table[c].to_pylist()])
        for c in ("open", "high", "low", "close", "volume")
    ]
    return BarArrays(symbol, "1m", ns, *cols)


def session_spec(legs: list[tuple[str, str, dict[str, Any]]], **overrides: Any) -> SessionSpec:
    data: dict[str, Any] = {
        "legs": [
            {"symbol": s, "strategy": {"name": name, "params": params}} for s, name, params in legs
        ],
        "timeframe": "1m",
        "start": START,
        "end": datetime(2031, 1, 1, tzinfo=UTC),
        "initial_cash": Decimal(10_000),
        "fees": {"rate": "0.001", "fixed": "0.1"},
        "slippage_bps": "2",
        "allow_short": True,
        "sizing": {"mode": "fraction_of_equity", "value": "0.3"},
        "speed": "max",
        "seed": 11,
        "ticks_per_bar": 20,
    }
    data.update(overrides)
    return SessionSpec.model_validate(data)
