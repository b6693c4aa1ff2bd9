"""The notebook API on backtesting.py's GOOG daily bars: three lines equal `run_backtest` on the
same bars, a user's own Strategy class runs (and sweeps), `optimize` equals `run_sweep`, `plot`
returns the report's chart, and results come back as pandas with exact money."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from backtesting.test import EURUSD, GOOG
from pydantic import Field

from tests.support.processes import REPO
from velocitas import Backtest, indicators
from velocitas.domain.bars import BarArrays
from velocitas.engine.runner import run_backtest, run_signals, select_bars
from velocitas.engine.spec import BacktestSpec
from velocitas.errors import InvalidRequest
from velocitas.research.grid import grid_combinations
from velocitas.research.sweeps import run_sweep
from velocitas.strategies import I8, Bars, Strategy, StrategyParams, registry
from velocitas.strategies.crossover import SmaCross


def _goog_bars() -> BarArrays:
    """GOOG as the engine reads it, built by hand (not by the code under test)."""
    times = GOOG.index.tz_localize("UTC").as_unit("ns").asi8
    columns = [GOOG[c].to_numpy(np.float64) for c in ("Open", "High", "Low", "Close", "Volume")]
    return BarArrays("GOOG", "1d", np.asarray(times, dtype=np.int64), *columns)


def _goog_spec(strategy: str, params: dict[str, Any], **fields: Any) -> BacktestSpec:
    return BacktestSpec.model_validate(
        {
            "symbol": "GOOG",
            "strategy": {"name": strategy, "params": params},
            "timeframe": "1d",
            "start": "2004-08-19T00:00:00Z",
            "end": "2013-03-02T00:00:00Z",
            "initial_cash": "10000",
            **fields,
        }
    )


def test_three_lines_on_goog_equal_run_backtest() -> None:
    bt = Backtest(GOOG, "sma_cross", params={"fast": 10, "slow": 20}, symbol="GOOG")
    stats = bt.run()
    expected = run_backtest(
        _goog_spec("sma_cross", {"fast": 10, "slow": 20}), {"GOOG": _goog_bars()}
    )
    assert bt.result is not None
    assert bt.result.result_hash == expected.result_hash
    assert [t.to_dict() for t in bt.result.trades] == [t.to_dict() for t in expected.trades]
    assert len(expected.trades) > 20
    assert stats["final_equity"] == expected.final_equity
    assert isinstance(stats["final_equity"], Decimal)
    for key in ("sharpe", "cagr", "max_drawdown", "trade_count", "total_return"):
        assert stats[key] == expected.metrics[key]
    # Money is exact in the Series, from the ledger.
    assert stats["fees_paid"] == sum((f.fee for f in expected.fills), start=Decimal(0))
    assert stats["best_trade"] == max(t.net_pnl for t in expected.trades)
    assert stats["start"] == pd.Timestamp("2004-08-19", tz="UTC")
    assert stats["end"] == pd.Timestamp("2013-03-01", tz="UTC")


def test_trades_and_equity_come_back_as_dataframes() -> None:
    bt = Backtest(GOOG, "sma_cross", params={"fast": 10, "slow": 20})
    bt.run()
    assert bt.result is not None
    trades, equity = bt.trades, bt.equity
    assert len(trades) == len(bt.result.trades)
    first = bt.result.trades[0]
    assert trades.loc[0, "net_pnl"] == first.net_pnl
    assert isinstance(trades.loc[0, "net_pnl"], Decimal)
    assert trades.loc[0, "entry_at"] == pd.Timestamp(first.entry_at)
    assert trades.loc[0, "side"] == "long"
    assert trades["return_fraction"].dtype == np.float64
    assert (trades["net_pnl"] == trades["gross_pnl"] - trades["fees"]).all()
    np.testing.assert_array_equal(equity["equity"].to_numpy(), bt.result.equity.equity)
    assert equity.index[0] == pd.Timestamp("2004-08-19", tz="UTC")
    assert equity["drawdown"].max() == pytest.approx(bt.result.metrics["max_drawdown"])


class CloseAboveSma(Strategy):
    name = "test_close_above_sma"
    description = "Long while the close is above its SMA."

    class Params(StrategyParams):
        period: int = Field(20, ge=2, le=1_000)

    params: Params

    def signals(self, bars: Bars) -> I8:
        close = np.asarray(bars.close, dtype=np.float64)
        return (close > indicators.sma(close, self.params.period)).astype(np.int8)


def test_a_users_strategy_class_runs_and_sweeps() -> None:
    try:
        bt = Backtest(GOOG, CloseAboveSma, params={"period": 30}, symbol="GOOG")
        stats = bt.run()
        spec = _goog_spec("test_close_above_sma", {"period": 30})
        legs = select_bars(spec, {"GOOG": _goog_bars()})
        sides = CloseAboveSma(CloseAboveSma.Params(period=30)).signals(legs[0])
        expected = run_signals(spec, legs, [sides])
        assert stats["final_equity"] == expected.final_equity
        assert bt.result is not None
        assert bt.result.result_hash == expected.result_hash
        assert stats["trade_count"] > 10
        # Registered by name, so the sweep's fast path builds it like any strategy.
        best = bt.optimize(period=[10, 30], objective="total_return", workers=1)
        assert best.sweep.path == "fast"
        assert best.best_params in ({"period": 10}, {"period": 30})
        # Running the cell that defines the class again gives a new class of the same name.
        again = type("CloseAboveSma", (CloseAboveSma,), {"__qualname__": "CloseAboveSma"})
        again.__module__ = CloseAboveSma.__module__
        assert Backtest(GOOG, again).run()["trade_count"] > 0
    finally:
        registry.unregister("test_close_above_sma")


def test_a_strategy_instance_and_a_taken_name() -> None:
    by_instance = Backtest(GOOG, SmaCross({"fast": 10, "slow": 20})).run()
    by_name = Backtest(GOOG, "sma_cross", params={"fast": 10, "slow": 20}).run()
    assert by_instance["final_equity"] == by_name["final_equity"]

    class Impostor(CloseAboveSma):
        name = "sma_cross"

    with pytest.raises(InvalidRequest, match=r"taken by velocitas\.strategies\.crossover") as taken:
        Backtest(GOOG, Impostor)
    assert taken.value.field == "strategy"


def test_optimize_equals_run_sweep() -> None:
    bt = Backtest(GOOG, "sma_cross", symbol="GOOG", fees=0.002)
    found = bt.optimize(fast=range(5, 25, 5), slow=[20, 50], objective="sortino")
    spec = _goog_spec("sma_cross", {}, fees={"rate": "0.002"})
    combos, skipped = grid_combinations("sma_cross", {"fast": [5, 10, 15, 20], "slow": [20, 50]})
    expected = run_sweep(spec, {"GOOG": _goog_bars()}, combos, objective="sortino", skipped=skipped)
    assert found.sweep.path == expected.path == "fast"
    assert found.sweep.rows == expected.rows
    assert found.sweep.skipped == 1  # fast=20, slow=20 breaks fast < slow
    assert list(found.ranking.columns[:3]) == ["rank", "fast", "slow"]
    assert found.ranking["sortino"].tolist() == [r["sortino"] for r in expected.rows]
    assert found.ranking.loc[0, "final_equity"] == Decimal(expected.rows[0]["final_equity"])
    assert found.best_params == expected.rows[0]["params"]
    # Parameters given to Backtest hold in every run, and rules are checked with them.
    held = Backtest(GOOG, "sma_cross", params={"fast": 30}).optimize(slow=[20, 50, 100])
    assert held.sweep.skipped == 1  # slow=20 is not above fast=30
    assert sorted(held.ranking["slow"]) == [50, 100]
    assert set(held.ranking["fast"]) == {30}


def test_plot_returns_the_reports_chart() -> None:
    bt = Backtest(GOOG, "sma_cross", params={"fast": 10, "slow": 20})
    bt.run()
    figure = bt.plot()
    traces = {trace.name: trace for trace in figure.data}
    np.testing.assert_array_equal(np.asarray(traces["equity"].y), bt.equity["equity"].to_numpy())
    np.testing.assert_array_equal(np.asarray(traces["close"].y), GOOG["Close"].to_numpy())
    assert {"long entry", "drawdown %"} <= set(traces)
    assert "Plotly.newPlot" in figure.to_html(include_plotlyjs=False)


def test_column_names_times_and_timeframe_as_people_have_them() -> None:
    frame = GOOG.reset_index(names="Date").rename(columns=str.lower).iloc[:300]
    frame["Adj Close"] = frame["close"] * 0.5
    bt = Backtest(frame, "buy_and_hold", columns={"close": "Adj Close"})
    assert bt.bars.timeframe == "1d"
    assert len(bt.bars) == 300
    np.testing.assert_array_equal(bt.bars.close, frame["Adj Close"].to_numpy())
    # FX hours with a zone: converted to UTC, timeframe inferred.
    fx = EURUSD.iloc[:500].tz_localize("Europe/Berlin")
    hourly = Backtest(fx, "sma_cross")
    assert hourly.bars.timeframe == "1h"
    assert hourly.bars.opened_at[0] == pd.Timestamp(fx.index[0]).tz_convert("UTC").value


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda f: f.assign(Close=f["Close"].where(f.index != f.index[5])),
            "data.Close",
            "2004-08-26",
        ),
        (lambda f: f.drop(columns="Close"), "columns.close", "no close column"),
        (lambda f: pd.concat([f.iloc[:3], f.iloc[2:4]]), "data.index", "share the time"),
        (lambda f: f.reset_index(drop=True), "data.index", "DatetimeIndex"),
    ],
)
def test_bad_frames_are_refused_naming_the_column_or_row(
    change: Any, field: str, message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message) as bad:
        Backtest(change(GOOG.iloc[:50]), "sma_cross")
    assert bad.value.field == field


def test_options_are_backtest_spec_fields_with_shorthands() -> None:
    bt = Backtest(
        GOOG, "sma_cross", cash=50_000, fees=0.002, lot=1, stop_loss=0.05, allow_short=True
    )
    spec = bt.spec
    assert spec.initial_cash == Decimal(50_000)
    assert spec.fees.rate == Decimal("0.002")
    assert spec.sizing.lot_size == Decimal(1)
    assert spec.stops.stop_loss is not None
    assert spec.stops.stop_loss.value == Decimal("0.05")
    assert spec.allow_short
    assert spec.legs[0].strategy.params == {"allow_short": True}
    stats = bt.run()
    assert all(t.quantity == t.quantity.to_integral_value() for t in bt.result.trades)  # type: ignore[union-attr]
    assert stats["initial_cash"] == Decimal(50_000)
    with pytest.raises(InvalidRequest) as bad:
        Backtest(GOOG, "sma_cross", fill="tomorrow")
    assert bad.value.field == "fill"
    with pytest.raises(InvalidRequest) as bad:
        Backtest(GOOG, "sma_cross", params={"fast": 0})
    assert bad.value.field == "strategy.params.fast"


def test_importing_velocitas_stays_light() -> None:
    code = (
        "import sys, velocitas; print('pandas' in sys.modules, 'velocitas.notebook' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, check=True
    )
    assert done.stdout.split() == [b"False", b"False"]
