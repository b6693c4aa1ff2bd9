"""The sweep's fast path ranks on the run's market calendar and lot, as `run_backtest` does."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestSpec
from velocitas.research.runs import fast_path_supported, fast_runs, general_runs

backtesting_test = pytest.importorskip("backtesting.test")


def test_fast_and_general_sweeps_agree_on_daily_stocks() -> None:
    goog = backtesting_test.GOOG
    times = goog.index.values.astype("datetime64[ns]").astype(np.int64)
    cols = (goog[k].to_numpy(dtype=np.float64) for k in ("Open", "High", "Low", "Close", "Volume"))
    bars = {"GOOG": BarArrays("GOOG", "1d", times, *cols)}
    spec = BacktestSpec.model_validate(
        {
            "symbol": "GOOG",
            "strategy": {"name": "sma_cross", "params": {}},
            "timeframe": "1d",
            "start": datetime(2004, 1, 1, tzinfo=UTC),
            "end": datetime(2014, 1, 1, tzinfo=UTC),
            "initial_cash": Decimal(10_000),
        }
    )
    combos = [{"fast": 10, "slow": 30}, {"fast": 20, "slow": 100}]
    assert fast_path_supported(spec, combos)

    fast = fast_runs(spec, bars, combos, None)
    general = general_runs(spec, bars, combos, 1, None)

    for ours, full in zip(fast, general, strict=True):
        assert Decimal(ours["final_equity"]) == Decimal(full["final_equity"])  # whole shares
        assert ours["sharpe"] == pytest.approx(full["sharpe"], rel=1e-9)  # sqrt(252) in both
        assert ours["calmar"] == pytest.approx(full["calmar"], rel=1e-9)
