"""Walk-forward: folds, no IS/OOS overlap, anchored vs rolling, stitched equity, determinism."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from tests.velocitas.engine.market import START, gbm_bars, spec
from velocitas.errors import InvalidRequest
from velocitas.research.walk_forward import plan_folds, run_walk_forward

BARS = {"BTCUSDT": gbm_bars(3 * 1440, seed=5)}  # three days of minutes
SPACE: dict[str, list[Any]] = {"fast": [3, 6], "slow": [20, 45]}


def _spec(**overrides: Any) -> Any:
    base: dict[str, Any] = {
        "legs": [{"symbol": "BTCUSDT", "strategy": {"name": "sma_cross", "params": {}}}],
        "end": START + timedelta(days=3),
        "fees": {"rate": "0.0005"},
    }
    return spec(**(base | overrides))


def test_plan_folds_rolling_boundaries() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    folds = plan_folds(start, start + timedelta(days=10), timedelta(days=4), timedelta(days=2))
    assert [(f.in_sample_start.day, f.in_sample_end.day) for f in folds] == [(1, 5), (3, 7), (5, 9)]
    assert [(f.out_of_sample_start.day, f.out_of_sample_end.day) for f in folds] == [
        (5, 7),
        (7, 9),
        (9, 11),
    ]
    for fold in folds:
        assert fold.in_sample_end <= fold.out_of_sample_start  # no IS/OOS overlap
        assert fold.in_sample_end - fold.in_sample_start == timedelta(days=4)
    for before, after in itertools.pairwise(folds):
        assert before.out_of_sample_end == after.out_of_sample_start  # OOS tiles, no overlap


def test_plan_folds_anchored_grows_in_sample_and_clips_last() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=9)
    folds = plan_folds(start, end, timedelta(days=4), timedelta(days=2), anchored=True)
    assert all(f.in_sample_start == start for f in folds)
    assert [f.in_sample_end.day for f in folds] == [5, 7, 9]
    assert folds[-1].out_of_sample_end == end  # clipped: one day instead of two


def test_plan_folds_refuses_a_range_shorter_than_in_sample() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidRequest, match="in-sample") as exc:
        plan_folds(start, start + timedelta(days=3), timedelta(days=3), timedelta(days=1))
    assert exc.value.field == "in_sample"


def _run(**kwargs: Any) -> Any:
    return run_walk_forward(
        _spec(),
        BARS,
        SPACE,
        in_sample=timedelta(hours=12),
        out_of_sample=timedelta(hours=12),
        workers=1,
        **kwargs,
    )


def test_run_walk_forward_stitches_one_continuous_account() -> None:
    result = _run()
    assert len(result.folds) == 5
    oos_bars = 5 * 720
    assert len(result.equity) == len(result.opened_at) == oos_bars
    assert np.all(np.diff(result.opened_at) > 0)
    assert result.opened_at[0] == BARS["BTCUSDT"].opened_at[720]
    # Every segment starts from the previous segment's final equity.
    previous = Decimal(10_000)
    for fold in result.folds:
        outcome = fold["out_of_sample_result"]
        assert fold["params"] is not None
        assert Decimal(outcome["final_equity"]) != previous or outcome["trades"] == 0
        previous = Decimal(outcome["final_equity"])
    assert result.final_equity == previous
    segment_ends = result.equity[719::720]
    finals = [float(Decimal(f["out_of_sample_result"]["final_equity"])) for f in result.folds]
    assert segment_ends.tolist() == pytest.approx(finals, rel=1e-12)
    assert result.metrics["total_return"] == pytest.approx(float(previous) / 10_000 - 1)
    assert result.metrics["trade_count"] == sum(
        f["out_of_sample_result"]["trades"] for f in result.folds
    )


def test_run_walk_forward_picks_the_in_sample_best() -> None:
    from velocitas.research.grid import grid_combinations
    from velocitas.research.sweeps import run_sweep

    result = _run(objective="total_return")
    fold = result.folds[1]
    window = _spec(
        start=datetime.fromisoformat(fold["in_sample"][0]),
        end=datetime.fromisoformat(fold["in_sample"][1]),
    )
    combos, _ = grid_combinations("sma_cross", SPACE)
    best = run_sweep(window, BARS, combos, objective="total_return").rows[0]
    assert fold["params"] == best["params"]
    assert fold["in_sample_objective"] == best["total_return"]


def test_run_walk_forward_anchored_differs_from_rolling_in_sample() -> None:
    anchored = _run(anchored=True)
    assert all(f["in_sample"][0] == START.isoformat() for f in anchored.folds)
    rolling = _run()
    assert [f["in_sample"][0] for f in rolling.folds] != [f["in_sample"][0] for f in anchored.folds]
    assert [f["out_of_sample"] for f in rolling.folds] == [
        f["out_of_sample"] for f in anchored.folds
    ]


def test_run_walk_forward_is_deterministic() -> None:
    first, second = _run(), _run()
    assert first.to_dict(include_equity=True) == second.to_dict(include_equity=True)


def test_run_walk_forward_flat_when_constraints_exclude_everything() -> None:
    result = _run(min_trades=10**6)
    assert all(f["params"] is None for f in result.folds)
    assert result.final_equity == Decimal(10_000)
    assert np.all(result.equity == 10_000.0)
