"""Tournaments in one process: the plan (folds, entries, size limit), pure noise (overfit,
nothing passes the deflated Sharpe ratio), a planted edge (the right strategy wins), and the
recommendations naming their evidence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.velocitas.research.tournament_market import START, momentum_edge, random_walk
from velocitas.errors import InvalidRequest
from velocitas.research.tournament import execute
from velocitas.research.tournament_spec import TournamentSpec, validate

BARS = 2400
STRATEGIES: list[Any] = ["momentum", "sma_cross", "rsi_reversion", "bollinger_reversion",
                         "buy_and_hold", "donchian_breakout"]  # fmt: skip


def _spec(**change: Any) -> TournamentSpec:
    base: dict[str, Any] = {
        "strategies": STRATEGIES,
        "symbols": ["A", "B", "C"],
        "start": START,
        "end": START + timedelta(hours=BARS),
        "folds": 5,
    }
    return TournamentSpec.model_validate(base | change)


def test_plan_cuts_equal_spans_and_orders_entries() -> None:
    plan = validate(_spec(folds=3, strategies=["momentum", "sma_cross"], symbols=["A", "B"]))
    span = timedelta(hours=BARS / 4)
    assert [
        (f.in_sample_start, f.out_of_sample_start, f.out_of_sample_end) for f in plan.folds
    ] == [(START + k * span, START + (k + 1) * span, START + (k + 2) * span) for k in range(3)]
    assert [(e.strategy, e.symbol) for e in plan.entries] == [
        (0, "A"),
        (1, "A"),
        (0, "B"),
        (1, "B"),
    ]
    assert plan.size == 2 * 2 * 3
    anchored = validate(_spec(folds=3, anchored=True))
    assert {f.in_sample_start for f in anchored.folds} == {START}


def test_a_grid_counts_its_trials_into_the_size() -> None:
    spec = _spec(strategies=[{"name": "sma_cross", "grid": {"fast": [5, 10], "slow": [30, 50]}}])
    plan = validate(spec)
    assert plan.trials == [4]
    assert plan.size == 4 * 3 * 5
    with pytest.raises(InvalidRequest, match=r"= 60 runs; at most 59") as caught:
        validate(spec, max_size=59)
    assert caught.value.field == "folds"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strategies": ["momentum", "nope"]}, "strategies[1].name"),
        ({"strategies": [{"name": "momentum", "params": {"period": 0}}]},
         "strategies[0].params.period"),
        ({"end": START}, "end"),
        ({"folds": 100, "end": START + timedelta(hours=200)}, "folds"),
    ],
)  # fmt: skip
def test_validate_names_the_field_at_fault(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate(_spec(**change))
    assert caught.value.field == field


@pytest.mark.slow
def test_on_pure_noise_the_pbo_is_high_and_nothing_passes() -> None:
    bars = {(s, "1h"): random_walk(s, BARS, seed) for seed, s in enumerate("ABC")}
    report = execute(_spec(), bars)
    assert report["failed"] == []
    assert report["trials"] == 18
    assert report["overfitting"]["pbo"] >= 0.4
    assert not any(e["deflated_sharpe"]["passes"] for e in report["entries"])
    kinds = [r["kind"] for r in report["recommendations"]]
    assert kinds[0] == "overfit"
    assert kinds[1:4] == ["no_edge"] * 3  # one per market
    assert set(kinds[4:]) == {"regime_no_edge"}  # no regime has a winner either
    assert not any(row["passes"] for rows in report["regimes"].values() for row in rows)


@pytest.mark.slow
def test_a_planted_momentum_edge_makes_momentum_win_everywhere() -> None:
    bars = {(s, "1h"): momentum_edge(s, BARS, seed, edge=0.0025) for seed, s in enumerate("ABC")}
    report = execute(_spec(), bars)
    best_per_symbol = {}
    for entry in report["entries"]:
        best_per_symbol.setdefault(entry["symbol"], entry)
    assert {s: e["strategy"] for s, e in best_per_symbol.items()} == dict.fromkeys(
        "ABC", "momentum"
    )
    assert all(e["deflated_sharpe"]["passes"] for e in best_per_symbol.values())
    assert report["overfitting"]["pbo"] < 0.2
    # Split by regime, the planted strategy wins where its edge shows most: markets trending up.
    assert report["regimes"]["trending_up"][0]["strategy"] == "momentum"
    regime_advice = [r for r in report["recommendations"] if r["kind"] == "regime"]
    assert ("trending_up", "momentum") in {(r["regime"], r["strategy"]) for r in regime_advice}
    trades = [r for r in report["recommendations"] if r["kind"] == "trade"]
    assert {(r["strategy"], r["symbol"]) for r in trades} == {("momentum", s) for s in "ABC"}
    for r in trades:
        evidence = r["evidence"]
        assert evidence["out_of_sample"]["sharpe"] > 0
        assert evidence["deflated_sharpe"] >= 0.95
        assert evidence["pbo"] == report["overfitting"]["pbo"]
        assert evidence["trials"] == 18


def test_an_entry_without_bars_is_reported_failed_not_raised() -> None:
    bars = {("A", "1h"): random_walk("A", BARS, 1), ("B", "1h"): random_walk("B", BARS, 2)}
    report = execute(_spec(strategies=["momentum", "sma_cross"]), bars)
    assert [(f["symbol"], f["strategy"]) for f in report["failed"]] == [
        ("C", "momentum"),
        ("C", "sma_cross"),
    ]
    assert len(report["entries"]) == 4
