"""Sweeps: the fast path equals run_backtest; grid, random, ranking, constraints, heatmap."""

from __future__ import annotations

from typing import Any

import pytest

from tests.velocitas.engine.market import gbm_bars, spec
from velocitas.errors import InvalidRequest
from velocitas.research.grid import grid_combinations, parse_range, random_combinations
from velocitas.research.runs import fast_path_supported
from velocitas.research.sweeps import SweepSpec, expand, rank, run_sweep

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
        assert row["trades"] > 0
        assert row == other  # every metric, and the exact ledger's final equity
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


def test_run_sweep_minimize_ranks_lowest_first() -> None:
    combos, _ = grid_combinations("sma_cross", {"fast": [2, 5, 9], "slow": [20, 60]})
    highest = run_sweep(_spec(), BARS, combos, objective="total_return")
    lowest = run_sweep(_spec(), BARS, combos, objective="total_return", direction="minimize")
    values = [r["total_return"] for r in lowest.rows]
    assert values == sorted(values)
    assert {repr(r["params"]) for r in lowest.rows} == {repr(r["params"]) for r in highest.rows}


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


def test_run_sweep_fast_path_for_other_strategies_and_stops() -> None:
    combos, _ = grid_combinations("ema_cross", {"fast": [5, 8], "slow": [30]})
    legs = [{"symbol": "BTCUSDT", "strategy": {"name": "ema_cross", "params": {}}}]
    result = run_sweep(_spec(legs=legs), BARS, combos, workers=2)
    assert result.path == "fast"
    assert len(result.rows) == 2
    stops = {"stop_loss": {"kind": "percent", "value": "0.01"}}
    sma = grid_combinations("sma_cross", {"fast": [5]}, fixed={"slow": 30})[0]
    assert fast_path_supported(_spec(stops=stops), sma)
    assert run_sweep(_spec(stops=stops), BARS, sma).path == "fast"


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


def _child_runs(scores: list[float | None], status: str = "succeeded") -> list[dict[str, Any]]:
    return [
        {
            "job_id": f"job-{i}",
            "params": {"fast": i},
            "status": status,
            "summary": {"metrics": {"sharpe": score}, "final_equity": "1", "trade_count": i},
            "error": None,
        }
        for i, score in enumerate(scores)
    ]


def test_sweep_spec_maps_the_deprecated_fields_onto_the_objective() -> None:
    old = SweepSpec.model_validate(
        {"base": {}, "grid": {"fast": [1]}, "rank_by": "total_return", "descending": False}
    )
    new = SweepSpec.model_validate(
        {"base": {}, "grid": {"fast": [1]}, "objective": "total_return", "direction": "minimize"}
    )
    assert old == new
    assert old.scoring.metric == "total_return"
    with pytest.raises(ValueError, match="rank_by"):
        SweepSpec.model_validate(
            {"base": {}, "grid": {"fast": [1]}, "rank_by": "sharpe", "objective": "sortino"}
        )


@pytest.mark.parametrize("descending", [True, False])
def test_rank_with_deprecated_fields_equals_rank_with_the_objective(descending: bool) -> None:
    runs = _child_runs([0.5, None, 2.0, 0.5, float("nan"), -1.0])
    old = SweepSpec.model_validate(
        {"base": {}, "grid": {"fast": [1]}, "rank_by": "sharpe", "descending": descending}
    )
    direction = "maximize" if descending else "minimize"
    new = SweepSpec.model_validate({"base": {}, "grid": {"fast": [1]}, "direction": direction})
    report = rank(old, runs)
    assert report == rank(new, runs)
    order = [r["job_id"] for r in report["ranking"]]
    # Scored runs by score (ties in grid order), then the runs without a finite score.
    scored = (
        ["job-2", "job-0", "job-3", "job-5"] if descending else ["job-5", "job-0", "job-3", "job-2"]
    )
    assert order == [*scored, "job-1", "job-4"]
    assert report["rank_by"] == "sharpe"
    assert "excluded" not in report


def test_rank_lists_the_runs_a_constraint_excludes() -> None:
    runs = _child_runs([1.0, 2.0, 3.0])
    spec = SweepSpec.model_validate({"base": {}, "grid": {"fast": [1]}, "min_trades": 1})
    report = rank(spec, runs)
    assert [r["job_id"] for r in report["ranking"]] == ["job-2", "job-1"]
    assert report["excluded"] == [
        {"job_id": "job-0", "params": {"fast": 0}, "reason": "0 trades < 1"}
    ]


def test_expand_walks_the_grid_in_the_order_of_grid_combinations() -> None:
    base = {"legs": [{"strategy": {"name": "sma_cross", "params": {"fast": 2}}}]}
    spec = SweepSpec.model_validate({"base": base, "grid": {"slow": [30, 20], "fast": [5, 3]}})
    combos, skipped = grid_combinations("sma_cross", spec.grid)
    assert skipped == 0
    assert [params for params, _ in expand(spec)] == combos
    assert [child["legs"][0]["strategy"]["params"] for _, child in expand(spec)] == combos
