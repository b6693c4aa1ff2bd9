"""Every registered strategy on the sweep's fast path, proven equal to `run_backtest`.

For each strategy of the registry (a new one without a sample space here fails), a seeded random
draw of its parameter space runs through the fast path and through `run_backtest` per
combination, plain and with stops, sizing, risk rules, shorts and a risk-free rate: the ranked
rows are equal value for value (final equity digit for digit), and each combination's fills,
rejections and equity curve from the fast path's own simulation are `run_backtest`'s, with the
same result hash.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.velocitas.engine.market import gbm_bars, spec
from velocitas.engine.runner import records_result, run_backtest, select_bars, simulate_legs
from velocitas.errors import InvalidRequest
from velocitas.research.grid import (
    Span,
    declared_span,
    grid_combinations,
    parse_space,
    random_combinations,
)
from velocitas.research.runs import _with_params, fast_path_supported, fast_records
from velocitas.research.sweeps import run_sweep
from velocitas.strategies import registry

BARS = {"BTCUSDT": gbm_bars(3_000, seed=23, vol=0.004)}

# A small space per registered strategy: windows that trade on 3,000 bars.
SPACES: dict[str, dict[str, Any]] = {
    "bollinger_reversion": {
        "period": Span(5, 40),
        "k": Span(0.5, 2.5),
        "allow_short": [False, True],
    },
    "buy_and_hold": {},
    "donchian_breakout": {"period": Span(5, 40), "exit_period": Span(2, 20), "allow_short": [True]},
    "ema_cross": {"fast": Span(2, 15), "slow": Span(16, 60), "allow_short": [False, True]},
    "ensemble": {"threshold": Span(0.0, 1.0), "allow_short": [False, True]},
    "macd_cross": {"fast": Span(3, 12), "slow": Span(13, 30), "signal": Span(2, 12)},
    "momentum": {"period": Span(2, 50), "threshold": Span(0.0, 1.0), "allow_short": [False, True]},
    "rsi_reversion": {"period": Span(3, 20), "lower": Span(15, 40), "upper": Span(60, 85)},
    "sma_cross": {"fast": Span(2, 15), "slow": Span(16, 60), "allow_short": [False, True]},
}
FIXED: dict[str, dict[str, Any]] = {
    "ensemble": {
        "members": [
            {"name": "sma_cross", "params": {"fast": 5, "slow": 20, "allow_short": True}},
            {"name": "rsi_reversion", "params": {"period": 7}, "weight": 2.0},
            {"name": "momentum", "params": {"period": 15}, "weight": 0.5},
        ]
    }
}
VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {"fees": {"rate": "0.001", "fixed": "0.25"}, "slippage_bps": "3"},
    "stops_sizing_risk": {
        "fees": {"rate": "0.0015"},
        "slippage_bps": "2",
        "allow_short": True,
        "sizing": {"mode": "fraction_of_equity", "value": "0.5", "lot_size": "0.001"},
        "stops": {
            "stop_loss": {"kind": "percent", "value": "0.01"},
            "take_profit": {"kind": "atr", "value": "3", "atr_period": 10},
            "trailing_stop": {"kind": "percent", "value": "0.015"},
            "intrabar_path": "ohlc",
        },
        "risk": {"max_daily_loss": "0.03", "cooldown_losses": 3, "cooldown_bars": 20},
        "risk_free_rate": "0.02",
    },
    "fixed_cash_same_close": {
        "fill": "same_close",
        "sizing": {"mode": "fixed_cash", "value": "2500"},
        "risk": {"max_drawdown": "0.2", "max_position": "0.4"},
    },
    "count_time_confidence_rules": {
        "allow_short": True,
        "sizing": {"mode": "fraction_of_equity", "value": "0.5"},
        "risk": {"max_trades_per_day": 30, "max_holding_bars": 40, "min_confidence": "0.6"},
    },
}


def _spec(strategy: str, variant: str) -> Any:
    legs = [
        {"symbol": "BTCUSDT", "strategy": {"name": strategy, "params": FIXED.get(strategy, {})}}
    ]
    return spec(**{"legs": legs, **VARIANTS[variant]})


def _combinations(strategy: str, count: int = 3) -> list[dict[str, Any]]:
    space = SPACES[strategy]  # KeyError: give the new strategy a sample space above
    if not space:
        return [{}]
    combos, _ = random_combinations(strategy, space, count, seed=5, fixed=FIXED.get(strategy))
    assert len(combos) == count
    return combos


# `policy` is registered once velocitas.strategies.policy is imported (by whichever test module
# collection reaches first); its one parameter is a trained model, which a sweep does not draw.
SWEPT = sorted(set(registry.names()) - {"policy"})


def test_every_registered_strategy_has_a_sample_space() -> None:
    assert set(SWEPT) <= set(SPACES)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("strategy", SWEPT)
def test_fast_path_rows_equal_run_backtest(strategy: str, variant: str) -> None:
    the_spec = _spec(strategy, variant)
    combos = _combinations(strategy)
    assert fast_path_supported(the_spec, combos)
    fast = run_sweep(the_spec, BARS, combos, objective="total_return", workers=2)
    general = run_sweep(
        the_spec, BARS, combos, objective="total_return", workers=1, force_general=True
    )
    assert (fast.path, general.path) == ("fast", "general")
    assert fast.rows == general.rows  # every metric, final equity digit for digit, the order
    assert fast.excluded == general.excluded == []
    if strategy != "buy_and_hold":
        assert sum(row["trades"] for row in fast.rows) > 0


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("strategy", SWEPT)
def test_fast_path_fills_equity_and_hash_equal_run_backtest(strategy: str, variant: str) -> None:
    the_spec = _spec(strategy, variant)
    for params in _combinations(strategy, 2):
        plan, fills, rejections, equity = fast_records(the_spec, BARS, params)
        child = _with_params(the_spec, params)
        expected = run_backtest(child, BARS)
        leg_bars = select_bars(child, BARS)
        built = registry.build(strategy, child.legs[0].strategy.params)
        sides, confidence = built.signals_with_confidence(leg_bars[0])
        _, want_fills, want_rejections, want_equity = simulate_legs(
            plan.spec, leg_bars, [sides], [confidence]
        )
        assert np.array_equal(fills, want_fills)
        assert np.array_equal(rejections, want_rejections)
        assert np.array_equal(equity, want_equity)
        ours = records_result(
            plan.spec, plan.calendar, [plan.bars], plan.grid, fills, rejections, equity
        )
        assert ours.result_hash == expected.result_hash
        assert ours.final_equity == expected.final_equity


def test_fast_path_records_grow_past_one_block() -> None:
    # Momentum with period 1, shorts and no fees flips side on about every other bar: the record
    # buffers grow several times over the blocks of bars (`sweep_kernel.BLOCK_BARS`).
    bars = {"BTCUSDT": gbm_bars(40_000, seed=3)}
    legs = [{"symbol": "BTCUSDT", "strategy": {"name": "momentum", "params": {}}}]
    the_spec = spec(legs=legs, allow_short=True)
    params = {"period": 1, "allow_short": True}
    _, fills, _, equity = fast_records(the_spec, bars, params)
    expected = run_backtest(_with_params(the_spec, params), bars)
    assert len(fills) == len(expected.fills) > 20_000
    assert np.array_equal(equity, expected.equity.equity)


def test_multi_leg_sweeps_take_the_general_path() -> None:
    bars = {**BARS, "ETHUSDT": gbm_bars(3_000, seed=4, symbol="ETHUSDT")}
    legs = [
        {"symbol": "BTCUSDT", "strategy": {"name": "sma_cross", "params": {}}},
        {"symbol": "ETHUSDT", "strategy": {"name": "buy_and_hold", "params": {}}},
    ]
    two = spec(legs=legs)
    combos = [{"fast": 5, "slow": 20}]
    assert not fast_path_supported(two, combos)
    assert run_sweep(two, bars, combos).path == "general"


def test_random_search_draws_from_the_space_not_only_grid_points() -> None:
    space: dict[str, Any] = {"fast": Span(2, 30), "slow": Span(31, 200), "allow_short": [True]}
    first, skipped = random_combinations("sma_cross", space, 40, seed=9)
    again, _ = random_combinations("sma_cross", space, 40, seed=9)
    other, _ = random_combinations("sma_cross", space, 40, seed=10)
    assert first == again != other
    assert skipped == 0
    assert len({repr(c) for c in first}) == 40
    assert all(2 <= c["fast"] <= 30 and 31 <= c["slow"] <= 200 for c in first)
    assert all(type(c["fast"]) is int and c["allow_short"] is True for c in first)
    assert len({c["slow"] for c in first}) > 20  # not a handful of grid points
    floats, _ = random_combinations("bollinger_reversion", {"k": Span(0.5, 3.0)}, 10, seed=1)
    ks = [c["k"] for c in floats]
    assert all(0.5 <= k <= 3.0 and k == round(k, 6) for k in ks)
    assert len(set(ks)) == 10


def test_random_search_skips_draws_that_break_a_rule() -> None:
    combos, skipped = random_combinations(
        "sma_cross", {"fast": Span(2, 60), "slow": Span(2, 60)}, 25, seed=2
    )
    assert len(combos) == 25
    assert skipped > 0
    assert all(c["fast"] < c["slow"] for c in combos)


def test_declared_span_and_parse_space() -> None:
    assert declared_span("sma_cross", "fast") == Span(1, 10_000)
    assert declared_span("sma_cross", "allow_short") == [False, True]
    assert declared_span("bollinger_reversion", "k") == Span(0.1, 10.0)
    assert parse_space("5:50") == Span(5, 50)
    assert parse_space("0.5:2") == Span(0.5, 2)
    assert parse_space("5:50:5") == list(range(5, 55, 5))
    assert parse_space("3,7") == [3, 7]
    assert parse_space("*") is None
    with pytest.raises(InvalidRequest, match="empty range"):
        parse_space("9:3")
    with pytest.raises(InvalidRequest, match="no parameter"):
        declared_span("sma_cross", "speed")


def test_spans_are_refused_out_of_bounds_on_booleans_and_in_grids() -> None:
    with pytest.raises(InvalidRequest, match="outside") as exc:
        random_combinations("sma_cross", {"fast": Span(0, 5)}, 3, seed=1)
    assert exc.value.field == "grid.fast"
    with pytest.raises(InvalidRequest, match="boolean"):
        random_combinations("sma_cross", {"allow_short": Span(0, 1)}, 3, seed=1)
    with pytest.raises(InvalidRequest, match="random search"):
        grid_combinations("sma_cross", {"fast": Span(2, 5)})
