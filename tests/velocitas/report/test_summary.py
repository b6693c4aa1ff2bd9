from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from tests.velocitas.engine.market import START, gbm_bars
from velocitas.engine import BacktestResult, BacktestSpec, run_backtest
from velocitas.report import headline_rows, trade_summary_rows
from velocitas.report.summary import format_duration, format_money


def test_format_money_rounds_half_even_with_separators() -> None:
    assert format_money(Decimal("1234567.125")) == "1,234,567.12"
    assert format_money(Decimal("-0.135")) == "-0.14"
    assert format_money(2.5) == "2.50"


def test_format_duration_shows_days_and_clock() -> None:
    assert format_duration(59) == "00:00:59"
    assert format_duration(86_400 * 3 + 3_723) == "3d 01:02:03"


def _result() -> BacktestResult:
    spec = BacktestSpec.model_validate(
        {
            "symbol": "X",
            "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20}},
            "timeframe": "1m",
            "start": START,
            "end": START.replace(year=2025),
            "initial_cash": "1000",
        }
    )
    return run_backtest(spec, {"X": gbm_bars(2_000, symbol="X")})


def test_headline_rows_show_capital_metrics_and_undefined_as_na() -> None:
    result = _result()
    rows = dict(headline_rows(result))
    assert rows["Initial cash"] == "1,000.00"
    assert rows["Final equity"] == format_money(result.final_equity)
    assert rows["Trades"] == str(len(result.trades))
    assert rows["Result hash"] == result.result_hash
    blank = replace(result, metrics=dict(result.metrics) | {"sharpe": None})
    assert dict(headline_rows(blank))["Sharpe"] == "n/a"


def test_trade_summary_rows_count_sides_and_exit_reasons() -> None:
    result = _result()
    rows = dict(trade_summary_rows(result))
    assert rows["Trades"] == str(len(result.trades))
    exits = sum(int(v) for k, v in rows.items() if k.startswith("Exits by "))
    assert exits == len(result.trades)
