"""Several legs on one account: time alignment, shared cash, P&L breakdown."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from tests.velocitas.engine.market import MINUTE_NS, START, START_NS, gbm_bars, sma_cross
from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestSpec, run_signals


def _legs_spec(legs: list[tuple[str, str]], **overrides: object) -> BacktestSpec:
    data = {
        "legs": [{"symbol": s, "strategy": {"name": n, "params": {}}} for s, n in legs],
        "timeframe": "1m",
        "start": START,
        "end": "2030-01-01T00:00:00Z",
        "initial_cash": "10000",
        "fees": {"rate": "0.001"},
        "sizing": {"mode": "fraction_of_equity", "value": "0.4", "lot_size": "0.0001"},
    } | overrides
    return BacktestSpec.model_validate(data)


def _bars(symbol: str, times: list[int], prices: list[float]) -> BarArrays:
    t = START_NS + MINUTE_NS * np.asarray(times, dtype=np.int64)
    p = np.asarray(prices, dtype=np.float64)
    return BarArrays(symbol, "1m", t, p, p, p, p, np.ones(len(p)))


def test_run_signals_aligns_legs_on_the_union_of_bar_times_and_carries_last_close() -> None:
    a = _bars("A", [0, 1, 2, 3], [10, 10, 10, 10])
    b = _bars("B", [0, 2, 3], [20, 30, 30])  # no bar at minute 1
    run_spec = _legs_spec(
        [("A", "x"), ("B", "x")],
        fees={"rate": "0"},
        sizing={"mode": "fixed_quantity", "value": "1", "lot_size": "1"},
    )
    sides = [np.asarray([0, 0, 0, 0], np.int8), np.asarray([1, 1, 1], np.int8)]
    result = run_signals(run_spec, [a, b], sides)
    assert len(result.equity) == 4
    # B's entry waits for B's next bar (minute 2, open 30); minute 1 carries B's flat book.
    (trade,) = result.trades
    assert (trade.symbol, trade.entry_bar, trade.entry_price) == ("B", 2, Decimal(30))
    assert result.equity.equity.tolist() == pytest.approx([10_000] * 4)


def test_run_signals_legs_share_one_cash_account() -> None:
    a = _bars("A", [0, 1, 2], [10, 10, 10])
    b = _bars("B", [0, 1, 2], [10, 10, 10])
    run_spec = _legs_spec(
        [("A", "x"), ("B", "y")],
        sizing={"mode": "fixed_quantity", "value": "600", "lot_size": "1"},
    )
    ones = np.ones(3, dtype=np.int8)
    result = run_signals(run_spec, [a, b], [ones, ones])
    assert [t.symbol for t in result.trades] == ["A"]
    assert [(r.symbol, r.reason) for r in result.rejections] == [("B", "insufficient_funds")]


def test_run_signals_breakdown_adds_up_to_the_final_equity() -> None:
    legs = [("BTC", "fast"), ("ETH", "fast"), ("BTC", "slow")]
    btc, eth = gbm_bars(3000, seed=1, symbol="BTC"), gbm_bars(3000, seed=2, symbol="ETH")
    eth = eth.slice(500, 3000)  # ETH starts later
    run_spec = _legs_spec(legs, allow_short=True)
    sides = [
        sma_cross(btc.close, 5, 20, short=True),
        sma_cross(eth.close, 5, 20, short=True),
        sma_cross(btc.close, 20, 80, short=True),
    ]
    result = run_signals(run_spec, [btc, eth, btc], sides)
    breakdown = result.breakdown
    overall = breakdown.overall.net_pnl
    assert overall == sum(s.net_pnl for s in breakdown.by_leg.values())
    assert overall == sum(s.net_pnl for s in breakdown.by_symbol.values())
    assert overall == sum(s.net_pnl for s in breakdown.by_strategy.values())
    assert breakdown.by_symbol["BTC"].net_pnl == (
        breakdown.by_leg[0].net_pnl + breakdown.by_leg[2].net_pnl
    )
    assert result.final_equity == Decimal(10_000) + overall
    assert {t.leg for t in result.trades} == {0, 1, 2}
    assert min(t.entry_bar for t in result.trades if t.symbol == "ETH") >= 500
    assert result.equity.equity[-1] == pytest.approx(float(result.final_equity), rel=1e-9)
