"""Sweeps: the fast path equals run_backtest; grid, random, ranking, constraints, heatmap."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.velocitas.engine.market import gbm_bars, spec
from velocitas.engine.sweep import (
    fast_path_supported,
    grid_combinations,
    parse_range,
    random_combinations,
    run_sweep,
)
from velocitas.errors import InvalidRequest

BARS = {"BTCUSDT": gbm_bars(6_000, seed=11)}


def _spec(**overrides: Any) -> Any:
    base: dict[str, Any] = {
        "legs": [{"symbol": "BTCUSDT", "strategy": {"name": "sma_cross", "params": {}}}],
        "fees": {"rate": "0.001", "fixed": "0.25"},
        "slippage_bps": "3",
    }
    return spec(**(base | overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"allow_short": True},
        {"sizing": {"mode": "fraction_of_equity", "value": "0.5", "lot_size": "0.001"}},
        {"sizing": {"mode": "fixed_quantity", "value": "3", "lot_size": "1"}},
        {"sizing": {"mode": "fixed_cash", "value": "2500"}, "fees": {"rate": "0"}},
    ],
)
def test_run_sweep_fast_path_equals_run_backtest(overrides: dict[str, Any]) -> None:
    the_spec = _spec(**overrides)
    combos, _ = grid_combinations(
        "sma_cross", {"fast": [3, 8], "slow": [15, 40], "allow_short": [False, True]}
    )
    fast = run_sweep(the_spec, BARS, combos, objective="total_return")
    general = run_sweep(the_spec, BARS, combos, objective="total_return", force_general=True)
    assert (fast.path, general.path) == ("fast", "general")
    by_params = {repr(sorted(r["params"].items())): r for r in general.rows}
    assert len(fast.rows) == len(combos) == len(by_params)
    for row in fast.rows:
        other = by_params[repr(sorted(row["params"].items()))]
        assert row["trades"] == other["trades"] > 0
        assert row["max_drawdown"] == other["max_drawdown"]
        assert row["sharpe"] == other["sharpe"]
        assert row["sortino"] == other["sortino"]
        assert row["total_return"] == other["total_return"]
        assert row["calmar"] == other["calmar"]
        # The fast path reports the float simulation; the ledger re-prices it in Decimal.
        assert abs(Decimal(row["final_equity"]) - Decimal(other["final_equity"])) < Decimal(
            "0.00001"
        )
        assert row["profit_factor"] == pytest.approx(other["profit_factor"], rel=1e-9)
    assert [r["params"] for r in fast.rows] == [r["params"] for r in general.rows]


def test_run_sweep_ranks_best_first_and_applies_constraints() -> None:
    combos, _ = grid_combinations("sma_cross", {"fast": [2, 5, 9], "slow": [20, 60]})
    everything = run_sweep(_spec(), BARS, combos, objective="sharpe")
    values = [r["sharpe"] for r in everything.rows]
    assert values == sorted(values, reverse=True)
    assert [r["rank"] for r in everything.rows] == list(range(1, len(combos) + 1))
    cut = sorted(r["trades"] for r in everything.rows)[3]
    limited = run_sweep(_spec(), BARS, combos, objective="sharpe", min_trades=cut)
    assert all(r["trades"] >= cut for r in limited.rows)
    assert {repr(r["params"]) for r in limited.excluded} == {
        repr(r["params"]) for r in everything.rows if r["trades"] < cut
    }
    assert all("trades <" in r["excluded_because"] for r in limited.excluded)


def test_run_sweep_max_drawdown_excludes_deeper_runs() -> None:
    combos, _ = grid_combinations("sma_cross", {"fast": [2, 5, 9], "slow": [20, 60]})
    everything = run_sweep(_spec(), BARS, combos)
    limit = sorted(r["max_drawdown"] for r in everything.rows)[2]
    limited = run_sweep(_spec(), BARS, combos, max_drawdown=limit)
    assert len(limited.rows) == 3
    assert all(r["max_drawdown"] <= limit for r in limited.rows)


def test_run_sweep_heatmap_when_two_parameters_vary() -> None:
    combos, skipped = grid_combinations("sma_cross", {"fast": [5, 10, 30], "slow": [20, 40]})
    assert skipped == 1  # fast=30, slow=20 breaks fast < slow
    result = run_sweep(_spec(), BARS, combos, objective="calmar", skipped=skipped)
    heat = result.heatmap()
    assert heat is not None
    assert (heat.x, heat.y, heat.x_values, heat.y_values) == ("fast", "slow", [5, 10, 30], [20, 40])
    assert heat.z[0][2] is None
    by = {(r["params"]["fast"], r["params"]["slow"]): r["calmar"] for r in result.rows}
    assert heat.z[1][0] == by[(5, 40)]
    assert result.to_dict()["skipped"] == 1


def test_run_sweep_no_heatmap_for_one_parameter() -> None:
    combos, _ = grid_combinations("sma_cross", {"fast": [5, 10]}, fixed={"slow": 40})
    assert run_sweep(_spec(), BARS, combos).heatmap() is None


def test_run_sweep_general_path_for_other_strategies_and_stops() -> None:
    combos, _ = grid_combinations("ema_cross", {"fast": [5, 8], "slow": [30]})
    legs = [{"symbol": "BTCUSDT", "strategy": {"name": "ema_cross", "params": {}}}]
    result = run_sweep(_spec(legs=legs), BARS, combos, workers=2)
    assert result.path == "general"
    assert len(result.rows) == 2
    stops = {"stop_loss": {"kind": "percent", "value": "0.01"}}
    sma = grid_combinations("sma_cross", {"fast": [5]}, fixed={"slow": 30})[0]
    assert not fast_path_supported(_spec(stops=stops), sma)
    assert run_sweep(_spec(stops=stops), BARS, sma).path == "general"


def test_random_combinations_are_seeded_and_distinct() -> None:
    space: dict[str, list[Any]] = {"fast": list(range(2, 30)), "slow": list(range(31, 80))}
    first, _ = random_combinations("sma_cross", space, 15, seed=4)
    again, _ = random_combinations("sma_cross", space, 15, seed=4)
    other, _ = random_combinations("sma_cross", space, 15, seed=5)
    assert first == again != other
    assert len({repr(c) for c in first}) == 15


def test_grid_combinations_refuses_out_of_bounds_and_unknown() -> None:
    with pytest.raises(InvalidRequest, match="outside") as exc:
        grid_combinations("sma_cross", {"fast": [0, 5]})
    assert exc.value.field == "grid.fast"
    with pytest.raises(InvalidRequest, match="no parameter"):
        grid_combinations("sma_cross", {"speed": [1]})
    with pytest.raises(InvalidRequest):
        grid_combinations("no_such_strategy", {"fast": [1]})


def test_parse_range_forms_and_refusals() -> None:
    assert parse_range("5:20:5") == [5, 10, 15, 20]
    assert parse_range("3,7") == [3, 7]
    assert parse_range("0.5:1:0.25") == [0.5, 0.75, 1.0]
    for bad in ("20:5", "1:5:0", "a:b", ""):
        with pytest.raises(InvalidRequest):
            parse_range(bad)


def test_run_sweep_refuses_unknown_objective_and_empty_grid() -> None:
    combos, _ = grid_combinations("sma_cross", {"fast": [5]}, fixed={"slow": 30})
    with pytest.raises(InvalidRequest, match="objective"):
        run_sweep(_spec(), BARS, combos, objective="alpha")
    with pytest.raises(InvalidRequest, match="no valid"):
        run_sweep(_spec(), BARS, [])
