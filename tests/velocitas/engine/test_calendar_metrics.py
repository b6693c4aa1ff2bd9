"""Annualisation follows the market: daily stocks on XNYS, hourly FX on 24/5, crypto unchanged.

Real data shipped with backtesting.py: GOOG (daily, 2004-08-19 .. 2013-03-01, 2,148 sessions)
and EURUSD (hourly, 2017-04-19 .. 2018-02-07, 5,000 bars).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.velocitas.engine.market import gbm_bars
from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestSpec, run_backtest
from velocitas.metrics import compute_metrics

backtesting_test = pytest.importorskip("backtesting.test")

DAY_NS = 86_400 * 10**9


def _bars(frame: pd.DataFrame, symbol: str, timeframe: str) -> BarArrays:
    times = frame.index.values.astype("datetime64[ns]").astype(np.int64)
    cols = (frame[k].to_numpy(dtype=np.float64) for k in ("Open", "High", "Low", "Close", "Volume"))
    return BarArrays(symbol, timeframe, times, *cols)


def _spec(symbol: str, timeframe: str, strategy: str, **overrides: Any) -> BacktestSpec:
    data: dict[str, Any] = {
        "symbol": symbol,
        "strategy": {"name": strategy, "params": {}},
        "timeframe": timeframe,
        "start": datetime(2000, 1, 1, tzinfo=UTC),
        "end": datetime(2030, 1, 1, tzinfo=UTC),
        "initial_cash": Decimal(100_000),
        "fees": {"rate": "0"},
    }
    data.update(overrides)
    return BacktestSpec.model_validate(data)


def _years(bars: BarArrays, bar_ns: int) -> float:
    """Elapsed time from the first bar's opening to the last bar's close, in 365.25-day years."""
    return (int(bars.opened_at[-1]) + bar_ns - int(bars.opened_at[0])) / (365.25 * DAY_NS)


def test_daily_stock_cagr_is_geometric_and_sharpe_uses_252_sessions() -> None:
    goog = _bars(backtesting_test.GOOG, "GOOG", "1d")
    result = run_backtest(_spec("GOOG", "1d", "buy_and_hold"), {"GOOG": goog})
    metrics = result.metrics

    growth = float(result.final_equity) / 100_000
    truth = growth ** (1 / _years(goog, DAY_NS)) - 1
    assert metrics["cagr"] == pytest.approx(truth, rel=1e-9)
    assert 0.20 < truth < 0.30  # about 24 %, not the 37 % a 365-bar year gave
    returns = np.diff(np.concatenate([[100_000.0], result.equity.equity])) / np.concatenate(
        [[100_000.0], result.equity.equity[:-1]]
    )
    sharpe = returns.mean() / returns.std(ddof=1) * math.sqrt(252)
    assert metrics["sharpe"] == pytest.approx(sharpe, rel=1e-9)
    assert metrics["calendar"] == "XNYS"
    assert metrics["periods_per_year"] == 252.0
    assert metrics["first_bar_opened_at"] == "2004-08-19T00:00:00Z"
    assert metrics["last_bar_closed_at"] == "2013-03-02T00:00:00Z"


def test_daily_stock_default_lot_is_one_share_and_stated() -> None:
    goog = _bars(backtesting_test.GOOG, "GOOG", "1d")
    result = run_backtest(_spec("GOOG", "1d", "sma_cross"), {"GOOG": goog})
    assert result.metrics["lot_size"] == "1"
    assert result.fills
    assert all(f.quantity == f.quantity.to_integral_value() for f in result.fills)
    # A lot the spec gives is kept, even on an exchange.
    fractional = _spec("GOOG", "1d", "sma_cross", sizing={"lot_size": "0.001"})
    assert run_backtest(fractional, {"GOOG": goog}).metrics["lot_size"] == "0.001"


def test_hourly_fx_cagr_of_a_few_percent_is_a_few_percent() -> None:
    eurusd = _bars(backtesting_test.EURUSD, "EURUSD", "1h")
    result = run_backtest(_spec("EURUSD", "1h", "buy_and_hold"), {"EURUSD": eurusd})
    metrics = result.metrics
    total = float(result.final_equity) / 100_000 - 1
    truth = (1 + total) ** (1 / _years(eurusd, 3600 * 10**9)) - 1
    assert metrics["calendar"] == "fx"
    assert metrics["periods_per_year"] == 260 * 24
    assert metrics["cagr"] == pytest.approx(truth, rel=1e-9)
    assert abs(metrics["cagr"]) < 2 * abs(total) + 0.01  # not 51 % for +4 %
    assert result.metrics["lot_size"] == "0.00000001"


def test_an_explicit_calendar_overrides_the_inferred_one() -> None:
    goog = _bars(backtesting_test.GOOG, "GOOG", "1d")
    result = run_backtest(_spec("GOOG", "1d", "buy_and_hold", calendar="crypto"), {"GOOG": goog})
    assert result.metrics["calendar"] == "crypto"
    assert result.metrics["periods_per_year"] == 365.0


def test_risk_free_rate_lowers_sharpe() -> None:
    goog = _bars(backtesting_test.GOOG, "GOOG", "1d")
    plain = run_backtest(_spec("GOOG", "1d", "buy_and_hold"), {"GOOG": goog}).metrics
    rf = run_backtest(_spec("GOOG", "1d", "buy_and_hold", risk_free_rate="0.04"), {"GOOG": goog})
    assert rf.metrics["risk_free_rate"] == 0.04
    assert rf.metrics["sharpe"] < plain["sharpe"]  # type: ignore[operator]


def test_a_run_shorter_than_the_warm_up_warns() -> None:
    goog = _bars(backtesting_test.GOOG, "GOOG", "1d")
    spec = _spec(
        "GOOG",
        "1d",
        "sma_cross",
        start=datetime(2010, 1, 1, tzinfo=UTC),
        end=datetime(2010, 2, 1, tzinfo=UTC),
    )
    result = run_backtest(spec, {"GOOG": goog})
    assert result.trades == []
    assert len(result.warnings) == 1
    assert "slow=50" in result.warnings[0]
    assert result.to_dict()["warnings"] == list(result.warnings)
    assert result.metrics["first_bar_opened_at"] == "2010-01-04T00:00:00Z"  # not Jan 1


def test_crypto_figures_are_unchanged() -> None:
    """Gap-free 24/7 bars: the same floats as the 365-day, bar-count formulas always gave."""
    bars = gbm_bars(3000)
    result = run_backtest(_spec("X", "1m", "sma_cross"), {"X": bars})
    metrics = result.metrics
    assert metrics["calendar"] == "crypto"
    per_year = 365.0 * 86_400.0 / 60.0
    exponent = math.log(float(result.final_equity) / 100_000) * per_year / len(bars)
    assert metrics["cagr"] == math.expm1(exponent)  # bit for bit
    assert metrics["periods_per_year"] == per_year
    legacy = compute_metrics(
        result.equity.equity,
        result.equity.opened_at,
        [],
        timeframe="1m",
        calendar="crypto_24_7",
        initial_equity=100_000,
    )
    assert legacy["cagr"] == metrics["cagr"]
    assert legacy["sharpe"] == metrics["sharpe"]
