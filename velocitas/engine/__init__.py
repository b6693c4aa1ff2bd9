"""The backtest engine: bars and target sides in; fills, trades and an equity curve out.

Fill, fee, slippage, stop and risk semantics are stated in docs/backtesting-assumptions.md.

    from velocitas.engine import BacktestSpec, run_backtest
    result = run_backtest(BacktestSpec.model_validate(request), {"BTCUSDT": bars})
"""

from velocitas.engine.result import (
    BacktestResult,
    Breakdown,
    EquityCurve,
    PnlSummary,
)
from velocitas.engine.runner import run_backtest, run_signals, select_bars
from velocitas.engine.spec import (
    BacktestSpec,
    FeeSpec,
    LegSpec,
    RiskSpec,
    SizingSpec,
    StopLevelSpec,
    StopSpec,
    StrategyRef,
)
from velocitas.engine.stepper import Stepper
from velocitas.engine.version import ENGINE_VERSION

__all__ = [
    "ENGINE_VERSION",
    "BacktestResult",
    "BacktestSpec",
    "Breakdown",
    "EquityCurve",
    "FeeSpec",
    "LegSpec",
    "PnlSummary",
    "RiskSpec",
    "SizingSpec",
    "Stepper",
    "StopLevelSpec",
    "StopSpec",
    "StrategyRef",
    "run_backtest",
    "run_signals",
    "select_bars",
]
