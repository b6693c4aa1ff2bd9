"""Walk-forward jobs: the stored spec of `POST /walk-forwards` and how a worker runs one.

A walk-forward is sequential (each out-of-sample segment starts from the previous one's final
equity), so one worker runs a whole job; each fold's in-sample sweep uses the engine's fast
path (every core of that worker) when the spec allows it. See `core.engine.walk_forward`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.domain.bars import BarArrays
from core.engine.spec import BacktestSpec
from core.engine.sweep import Objective, grid_combinations
from core.engine.walk_forward import WalkForwardResult, parse_duration, plan_folds, run_walk_forward
from core.errors import InvalidRequest

__all__ = ["MAX_FOLDS", "WalkForwardSpec", "execute", "validate"]

MAX_FOLDS = 500
"""The most folds one walk-forward may cut its range into."""


class WalkForwardSpec(BaseModel):
    """A walk-forward request: the one-leg `base` backtest over the whole range, the `grid` of
    its strategy's parameter values, the window lengths (`"30d"`, `"12h"`, …), `anchored`
    (grow the in-sample window from the start) and the sweep's objective and constraints
    (`max_drawdown` a fraction; `random` draws that many grid points with `seed`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: BacktestSpec
    grid: dict[str, list[Any]] = Field(min_length=1, max_length=8)
    in_sample: str = Field(min_length=2, max_length=16)
    out_of_sample: str = Field(min_length=2, max_length=16)
    anchored: bool = False
    objective: Objective = "sharpe"
    min_trades: int = Field(default=0, ge=0)
    max_drawdown: float | None = Field(default=None, gt=0, le=1)
    random: int | None = Field(default=None, ge=1, le=1000)
    seed: int = 0


def validate(spec: WalkForwardSpec) -> None:
    """Refuse what would fail at once: several legs, an invalid grid, windows that fit no fold."""
    if len(spec.base.legs) != 1:
        raise InvalidRequest("a walk-forward runs one leg", field="base.legs")
    leg = spec.base.legs[0]
    combos, _ = grid_combinations(leg.strategy.name, spec.grid, fixed=dict(leg.strategy.params))
    if not combos:
        raise InvalidRequest("no combination of the grid is valid", field="grid")
    if math.prod(len(v) for v in spec.grid.values()) > 1000 and spec.random is None:
        raise InvalidRequest("the grid has over 1000 combinations; use random", field="grid")
    folds = plan_folds(
        spec.base.start,
        spec.base.end,
        parse_duration(spec.in_sample, field="in_sample"),
        parse_duration(spec.out_of_sample, field="out_of_sample"),
        anchored=spec.anchored,
    )
    if len(folds) > MAX_FOLDS:
        raise InvalidRequest(f"{len(folds)} folds; at most {MAX_FOLDS}", field="out_of_sample")


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
        min_trades=spec.min_trades,
        max_drawdown=spec.max_drawdown,
        random_count=spec.random,
        seed=spec.seed,
        workers=workers,
        progress=progress,
    )
