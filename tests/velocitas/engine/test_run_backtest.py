"""run_backtest: strategies resolved through the registry; unusable requests refused."""

from __future__ import annotations

import numpy as np
import pytest

from tests.velocitas.engine.market import gbm_bars, spec
from velocitas.engine import ENGINE_VERSION, BacktestResult, run_backtest, run_signals
from velocitas.errors import InvalidRequest
from velocitas.metrics import METRIC_KEYS
from velocitas.strategies import registry

SMA_LEG = {
    "symbol": "BTCUSDT",
    "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 30}},
}


def test_run_backtest_builds_each_legs_strategy_through_the_registry() -> None:
    bars = gbm_bars(2000)
    run_spec = spec(legs=[SMA_LEG])
    result = run_backtest(run_spec, {"BTCUSDT": bars})
    sides = registry.build("sma_cross", {"fast": 5, "slow": 30}).signals(bars)
    expected = run_signals(run_spec, [bars], [sides])
    assert isinstance(result, BacktestResult)
    assert result.trades
    assert result.result_hash == expected.result_hash
    assert result.engine_version == ENGINE_VERSION


def test_run_backtest_reports_every_metric() -> None:
    bars = gbm_bars(2000)
    result = run_backtest(spec(legs=[SMA_LEG]), {"BTCUSDT": bars})
    run_facts = ["calendar", "lot_size", "first_bar_opened_at", "last_bar_closed_at"]
    assert list(result.metrics) == [*METRIC_KEYS, *run_facts]
    assert result.metrics["calendar"] == "crypto"
    assert result.metrics["trade_count"] == len(result.trades)
    assert result.metrics["fees_paid"] == pytest.approx(float(result.breakdown.overall.fees))
    expected_return = float(result.final_equity) / 10_000 - 1
    assert result.metrics["total_return"] == pytest.approx(expected_return, rel=1e-9)


def test_run_backtest_names_the_leg_of_a_bad_strategy_parameter() -> None:
    leg = SMA_LEG | {"strategy": {"name": "sma_cross", "params": {"fast": 0, "slow": 30}}}
    with pytest.raises(InvalidRequest) as info:
        run_backtest(spec(legs=[leg]), {"BTCUSDT": gbm_bars(100)})
    assert info.value.field == "legs[0].strategy.params.fast"


def test_run_backtest_refuses_a_symbol_without_bars() -> None:
    with pytest.raises(InvalidRequest) as info:
        run_backtest(spec(legs=[SMA_LEG]), {"ETHUSDT": gbm_bars(10, symbol="ETHUSDT")})
    assert info.value.field == "legs[0].symbol"


def test_run_backtest_refuses_a_range_without_bars() -> None:
    run_spec = spec(legs=[SMA_LEG], start="2031-01-01T00:00:00Z", end="2032-01-01T00:00:00Z")
    with pytest.raises(InvalidRequest, match="no 1m bars"):
        run_backtest(run_spec, {"BTCUSDT": gbm_bars(10)})


def test_run_signals_refuses_signals_of_the_wrong_length() -> None:
    bars = gbm_bars(10)
    with pytest.raises(InvalidRequest, match="9 signals for 10 bars"):
        run_signals(spec(), [bars], [np.zeros(9, dtype=np.int8)])


def test_result_to_dict_is_json_ready_with_decimal_strings() -> None:
    bars = gbm_bars(1000)
    result = run_backtest(spec(legs=[SMA_LEG]), {"BTCUSDT": bars})
    data = result.to_dict()
    assert data["final_equity"] == format(result.final_equity, "f")
    trade = data["trades"][0]
    assert isinstance(trade["net_pnl"], str)
    assert trade["entry_at"].endswith("Z")
    assert "E" not in trade["quantity"]
    assert len(data["equity"]["equity"]) == 1000
    assert data["equity"]["opened_at"][0] == "2024-01-01T00:00:00Z"


def test_run_backtest_refuses_nan_prices() -> None:
    bars = gbm_bars(50)
    bars.close[10] = np.nan
    with pytest.raises(InvalidRequest, match="non-positive or NaN"):
        run_backtest(spec(legs=[SMA_LEG]), {"BTCUSDT": bars})
