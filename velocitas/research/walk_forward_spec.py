"""Walk-forward jobs: the stored spec of `POST /walk-forwards` and the steps a worker runs.

The in-sample optimisations of the folds are independent, so the platform runs each as its own
child job (`optimise`) on whichever worker takes it; only the out-of-sample stitching is
sequential (each segment starts from the previous one's final equity), and it runs once, when
the last fold has finished (`stitch`, outside any lock; see `worker.settling`). The result
equals `execute`, the whole walk-forward in one process. See `velocitas.research.walk_forward`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import Field

from velocitas.domain.bars import BarArrays
from velocitas.engine.spec import BacktestSpec
from velocitas.errors import InvalidRequest
from velocitas.research.grid import grid_combinations
from velocitas.research.objectives import ObjectiveFields, ObjectiveName
from velocitas.research.walk_forward import (
    FoldChoice,
    WalkForwardPlan,
    WalkForwardResult,
    check_windows,
    optimise_fold,
    plan_walk_forward,
    run_walk_forward,
    stitch_folds,
)
from velocitas.timeparse import parse_duration

__all__ = [
    "WalkForwardSpec",
    "execute",
    "fold_job_spec",
    "fold_of",
    "optimise",
    "plan",
    "stitch",
    "summary",
    "summary_of_choice",
    "validate",
]


class WalkForwardSpec(ObjectiveFields, frozen=True, extra="forbid"):
    """A walk-forward request: the one-leg `base` backtest over the whole range, the `grid` of
    its strategy's parameter values, the window lengths (`"30d"`, `"12h"`, `"6mo"`, …; see
    `velocitas.timeparse.parse_duration`), `anchored`
    (grow the in-sample window from the start) and the sweep's objective fields, as a sweep
    takes them (`objective` one of the metrics a local sweep measures; `max_drawdown` a
    fraction; `random` draws that many grid points with `seed`)."""

    base: BacktestSpec
    grid: dict[str, list[Any]] = Field(min_length=1, max_length=8)
    in_sample: str = Field(min_length=2, max_length=16)
    out_of_sample: str = Field(min_length=2, max_length=16)
    anchored: bool = False
    objective: ObjectiveName = "sharpe"
    random: int | None = Field(default=None, ge=1, le=1000)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)  # numpy seeds are non-negative


def validate(spec: WalkForwardSpec) -> None:
    """Refuse what would fail at once: several legs, an invalid grid, windows shorter than a
    few bars, more folds than the limit or none (see `velocitas.research.walk_forward`)."""
    if len(spec.base.legs) != 1:
        raise InvalidRequest("a walk-forward runs one leg", field="base.legs")
    leg = spec.base.legs[0]
    combos, _ = grid_combinations(leg.strategy.name, spec.grid, fixed=dict(leg.strategy.params))
    if not combos:
        raise InvalidRequest("no combination of the grid is valid", field="grid")
    if math.prod(len(v) for v in spec.grid.values()) > 1000 and spec.random is None:
        raise InvalidRequest("the grid has over 1000 combinations; use random", field="grid")
    in_sample = parse_duration(spec.in_sample, field="in_sample")
    out_of_sample = parse_duration(spec.out_of_sample, field="out_of_sample")
    folds = check_windows(
        spec.base.start, spec.base.end, in_sample, out_of_sample, timeframe=spec.base.timeframe
    )
    if folds == 0:
        raise InvalidRequest(
            f"the range [{spec.base.start}, {spec.base.end}) is not longer than the in-sample "
            f"window ({spec.in_sample})",
            field="in_sample",
        )


def fold_of(spec: dict[str, Any]) -> tuple[WalkForwardSpec, int]:
    """A fold job's stored spec: its walk-forward's spec and the fold's index."""
    return WalkForwardSpec.model_validate(spec["walk_forward"]), int(spec["fold"])


def fold_job_spec(spec: dict[str, Any], index: int) -> dict[str, Any]:
    """The stored spec of fold `index`'s job of the walk-forward stored as `spec`."""
    return {"walk_forward": spec, "fold": index}


def execute(
    spec: WalkForwardSpec,
    bars: Mapping[str, BarArrays],
    *,
    workers: int | None = 1,
    progress: Callable[[int, int], None] | None = None,
) -> WalkForwardResult:
    """Run the walk-forward on `bars` (keyed by symbol)."""
    validate(spec)
    return run_walk_forward(
        spec.base,
        bars,
        spec.grid,
        in_sample=parse_duration(spec.in_sample, field="in_sample"),
        out_of_sample=parse_duration(spec.out_of_sample, field="out_of_sample"),
        anchored=spec.anchored,
        objective=spec.objective,
        direction=spec.direction,
        min_trades=spec.min_trades,
        max_drawdown=spec.max_drawdown,
        random_count=spec.random,
        seed=spec.seed,
        workers=workers,
        progress=progress,
    )


def plan(spec: WalkForwardSpec) -> WalkForwardPlan:
    """The folds and parameter combinations of a valid spec (`validate` first)."""
    return plan_walk_forward(
        spec.base,
        spec.grid,
        in_sample=parse_duration(spec.in_sample, field="in_sample"),
        out_of_sample=parse_duration(spec.out_of_sample, field="out_of_sample"),
        anchored=spec.anchored,
        random_count=spec.random,
        seed=spec.seed,
    )


def optimise(
    spec: WalkForwardSpec, the_plan: WalkForwardPlan, index: int, series: BarArrays
) -> FoldChoice:
    """Fold `index`'s in-sample sweep on `series` (its bars from in-sample start to
    out-of-sample end), on this process alone: the platform's parallelism is across folds."""
    return optimise_fold(
        spec.base,
        series,
        the_plan,
        the_plan.folds[index],
        objective=spec.objective,
        direction=spec.direction,
        min_trades=spec.min_trades,
        max_drawdown=spec.max_drawdown,
        workers=1,
    )


def stitch(
    spec: WalkForwardSpec,
    the_plan: WalkForwardPlan,
    choices: list[FoldChoice],
    series: BarArrays,
) -> WalkForwardResult:
    """Trade every fold's choice out of sample on `series` (the whole range), in order."""
    return stitch_folds(
        spec.base,
        series,
        the_plan,
        choices,
        objective=spec.objective,
        anchored=spec.anchored,
    )


def summary(result: WalkForwardResult) -> dict[str, Any]:
    """The job's stored summary: folds, parameters, metrics; JSON-safe (NaN becomes null)."""
    return _finite_tree({**result.to_dict(), "metrics": dict(result.metrics)})


def summary_of_choice(choice: FoldChoice) -> dict[str, Any]:
    """A fold job's stored summary: its choice, JSON-safe."""
    return _finite_tree(choice.to_dict())


def _finite_tree(value: Any) -> Any:
    # JSONB has no NaN or infinity: those become null.
    if isinstance(value, dict):
        return {k: _finite_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_tree(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
