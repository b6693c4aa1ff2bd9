"""A session at speed max with no manual order gives the backtest's fills, fees and equity, bit
for bit: the session runs the backtest's own per-bar code (`run_bars`) with the `bridge` path
model walking the very ticks the session streams."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

from velocitas.domain.bars import BarArrays
from velocitas.domain.session_events import TradeEvent
from velocitas.engine.runner import run_backtest
from velocitas.sessions.runner import SessionRunner
from velocitas.sessions.spec import SessionSpec

from .market import gbm_bars, sample_bars, session_spec

STOPS = {
    "stop_loss": {"kind": "percent", "value": "0.004"},
    "take_profit": {"kind": "percent", "value": "0.006"},
    "trailing_stop": {"kind": "percent", "value": "0.003"},
}
SMA = ("sma_cross", {"fast": 5, "slow": 20})
EMA = ("ema_cross", {"fast": 8, "slow": 30})

CASES: dict[str, tuple[list[tuple[str, str, dict[str, Any]]], dict[str, Any]]] = {
    "one_leg": ([("AAA", *SMA)], {}),
    "one_leg_stops": ([("AAA", *SMA)], {"stops": STOPS}),
    "legs_stops_next_open": (
        [("AAA", *SMA), ("AAA", *EMA), ("BBB", *SMA)],
        {"stops": STOPS, "fill": "next_open"},
    ),
    "legs_risk": (
        [("AAA", *SMA), ("BBB", *EMA)],
        {
            "stops": {"stop_loss": {"kind": "atr", "value": "2"}},
            "risk": {"max_daily_loss": "0.01", "max_drawdown": "0.05", "max_position": "0.4"},
        },
    ),
}


def _market(kind: str) -> dict[str, BarArrays]:
    make = gbm_bars if kind == "synthetic" else sample_bars
    bars = {s: make(3000, seed=seed, symbol=s) for s, seed in (("AAA", 5), ("BBB", 9))}
    if kind == "synthetic":  # BBB misses bars: the legs' grids differ
        b = bars["BBB"]
        keep = np.ones(len(b), bool)
        keep[100:160] = False
        bars["BBB"] = BarArrays(
            b.symbol,
            b.timeframe,
            *(getattr(b, c)[keep] for c in ("opened_at", "open", "high", "low", "close", "volume")),
        )
    return bars


def _session(spec: SessionSpec, bars: dict[str, BarArrays], cut: list[int]) -> SessionRunner:
    runner = SessionRunner(uuid.uuid4(), spec, bars)
    fills: list[TradeEvent] = []
    for last in [*cut, runner.n - 1]:
        if last >= runner.next_bar:
            fills += [e for e in runner.step(last) if isinstance(e, TradeEvent)]
    runner.journal_fills = fills  # type: ignore[attr-defined]
    return runner


@pytest.mark.parametrize("market", ["synthetic", "real_shaped"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_session_at_max_speed_equals_the_backtest(market: str, case: str) -> None:
    legs, overrides = CASES[case]
    spec = session_spec(legs, **overrides)
    bars = {s: b for s, b in _market(market).items() if s in spec.symbols}
    backtest = run_backtest(spec.backtest_spec(), bars)
    # Bars one at a time at first, then uneven batches: the cut changes nothing.
    runner = _session(spec, bars, [*range(40), 41, 300, 1024, 2100])
    assert np.array_equal(runner.legs.equity, backtest.equity.equity)
    journal = [
        (f.leg, f.symbol, f.side, f.quantity, f.price, f.fee, f.reason)
        for f in runner.journal_fills  # type: ignore[attr-defined]
    ]
    expected = [
        (f.leg, f.symbol, f.side.value, f.quantity, f.price, f.fee, f.reason)
        for f in backtest.fills
    ]
    assert journal == expected
    assert len(expected) > 10  # the case trades
    pnl = runner.pnl()
    assert pnl.equity == backtest.final_equity
    assert pnl.realised == sum((t.net_pnl for t in backtest.trades), start=pnl.realised * 0)


def test_stops_fire_in_the_bridge_cases() -> None:
    """The stop cases exercise the tick walk (else their parity would prove little)."""
    spec = session_spec([("AAA", *SMA)], stops=STOPS)
    runner = _session(spec, _market("synthetic"), [])
    reasons = {f.reason for f in runner.journal_fills}  # type: ignore[attr-defined]
    assert {"stop_loss", "take_profit", "trailing_stop"} & reasons
