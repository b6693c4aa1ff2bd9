"""Parameter sweeps: a grid (or a seeded random draw of it) over one leg's strategy parameters,
ranked by an `Objective` under its constraints, with a heatmap when exactly two parameters vary.

One `SweepSpec` is what `POST /sweeps` stores; `run_sweep` is what a single machine (the CLI, a
walk-forward fold) calls, in the same dialect (`objective`, `direction`, `min_trades`,
`max_drawdown`). Both walk the one grid of `velocitas.research.grid`.

The job platform's sweep is a parent job (kind `sweep`) whose children are ordinary backtest
jobs (`expand` gives their specs), so each child is queued, retried, cancelled and stored
exactly like any backtest; once the last child has finished, a worker ranks their reports
(`rank`) outside any lock and records the parent's result once (see `worker.settling`).

    combos, skipped = grid_combinations("sma_cross", {"fast": [5, 10], "slow": [50, 100]})
    result = run_sweep(spec, {"BTCUSDT": bars}, combos, objective="sharpe")
    result.rows[0]["params"]  # the best parameters
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, model_validator

from velocitas.domain.bars import BarArrays
from velocitas.engine.spec import BacktestSpec
from velocitas.errors import InvalidRequest
from velocitas.research.grid import grid_points
from velocitas.research.heatmap import CellStatus, Heatmap
from velocitas.research.objectives import OBJECTIVES, Direction, Objective, ObjectiveFields
from velocitas.research.runs import Progress, fast_path_supported, fast_runs, general_runs

__all__ = ["MAX_RUNS", "SweepResult", "SweepSpec", "expand", "rank", "run_sweep"]

MAX_RUNS = 1000
"""The largest grid one sweep job may ask for."""


class SweepSpec(ObjectiveFields, frozen=True, extra="forbid"):
    """A sweep job: the `base` backtest (a normalised `BacktestSpec` dump, legs form), the
    `grid` of `legs[leg]`'s strategy parameters to try, and the objective fields: rank by the
    report metric `objective` in `direction` over the runs that meet `min_trades` and
    `max_drawdown`.

    Deprecated, accepted for one release: `rank_by` (now `objective`) and `descending` (now
    `direction`: true is `maximize`, false `minimize`)."""

    base: dict[str, Any]
    leg: int = Field(default=0, ge=0)
    grid: dict[str, list[Any]] = Field(min_length=1, max_length=8)

    @model_validator(mode="before")
    @classmethod
    def _deprecated_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not {"rank_by", "descending"} & data.keys():
            return data
        data = dict(data)
        if "rank_by" in data:
            if "objective" in data:
                raise ValueError("rank_by is the deprecated name of objective: give one")
            data["objective"] = data.pop("rank_by")
        if "descending" in data:
            if "direction" in data:
                raise ValueError("descending is the deprecated form of direction: give one")
            data["direction"] = "maximize" if data.pop("descending") else "minimize"
        return data

    @model_validator(mode="after")
    def _grid_size(self) -> SweepSpec:
        for name, values in self.grid.items():
            if not values:
                raise ValueError(f"grid.{name} lists no values")
        runs = math.prod(len(values) for values in self.grid.values())
        if runs > MAX_RUNS:
            raise ValueError(f"the grid has {runs} combinations; at most {MAX_RUNS} per sweep")
        return self


def expand(spec: SweepSpec) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (params, child backtest spec) of the grid, in the grid's stable order
    (`velocitas.research.grid.grid_points`). Every point, unchecked: the gateway refuses a
    sweep whose grid holds a run a backtest would refuse."""
    runs = []
    for params in grid_points(spec.grid):
        child = _deep_copy(spec.base)
        strategy = child["legs"][spec.leg]["strategy"]
        strategy["params"] = {**strategy.get("params", {}), **params}
        runs.append((params, child))
    return runs


def rank(spec: SweepSpec, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The sweep job's report from its children: each run is {"job_id", "params", "status",
    "summary", "error"}. Succeeded runs are ordered by the objective (runs without a value
    last); with a constraint set, the runs it excludes are listed under `excluded`."""
    scoring = spec.scoring

    def score(run: dict[str, Any]) -> float | None:
        value = ((run.get("summary") or {}).get("metrics") or {}).get(scoring.metric)
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    succeeded, excluded = [], []
    for run in runs:
        if run["status"] != "succeeded":
            continue
        reason = _excluded_because(scoring, run) if scoring.constrained else None
        if reason is None:
            succeeded.append(run)
        else:
            excluded.append({"job_id": run["job_id"], "params": run["params"], "reason": reason})
    ranking = [
        {
            "rank": i + 1,
            "job_id": r["job_id"],
            "params": r["params"],
            scoring.metric: score(r),
            "final_equity": (r.get("summary") or {}).get("final_equity"),
        }
        for i, r in enumerate(scoring.order(succeeded, score))
    ]
    failed = [
        {"job_id": r["job_id"], "params": r["params"], "status": r["status"], "error": r["error"]}
        for r in runs
        if r["status"] != "succeeded"
    ]
    report = {"rank_by": scoring.metric, "runs": len(runs), "ranking": ranking, "failed": failed}
    if scoring.constrained:
        report["excluded"] = excluded
    return report


def _excluded_because(scoring: Objective, run: dict[str, Any]) -> str | None:
    summary = run.get("summary") or {}
    drawdown = (summary.get("metrics") or {}).get("max_drawdown")
    return scoring.excluded_because(
        int(summary.get("trade_count") or 0),
        float(drawdown) if isinstance(drawdown, int | float) else 0.0,
    )


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


@dataclass(frozen=True)
class SweepResult:
    """Ranked rows (best first; JSON-ready), the runs that failed a constraint, and which
    path ran. Each row: rank, params, the objective and the other ranking metrics."""

    objective: str
    path: Literal["fast", "general"]
    rows: list[dict[str, Any]]
    excluded: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0

    @property
    def best(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows else None

    def heatmap(self) -> Heatmap | None:
        """The objective over the grid when exactly two parameters vary, else None."""
        every = self.rows + self.excluded
        if not every:
            return None
        names = sorted(every[0]["params"])
        varying = [n for n in names if len({repr(r["params"][n]) for r in every}) > 1]
        if len(varying) != 2:
            return None
        x, y = varying
        xs = sorted({r["params"][x] for r in every})
        ys = sorted({r["params"][y] for r in every})
        z: list[list[float | None]] = [[None] * len(xs) for _ in ys]
        # A pair with no run at all was refused by the strategy (invalid).
        status: list[list[CellStatus]] = [["invalid"] * len(xs) for _ in ys]
        for row in self.excluded:  # no value: an excluded run is not a result to compare
            status[ys.index(row["params"][y])][xs.index(row["params"][x])] = "excluded"
        for row in self.rows:
            j, i = ys.index(row["params"][y]), xs.index(row["params"][x])
            z[j][i], status[j][i] = row[self.objective], "ranked"
        return Heatmap(x, y, xs, ys, z, self.objective, status)

    def to_dict(self) -> dict[str, Any]:
        heat = self.heatmap()
        return {
            "objective": self.objective,
            "path": self.path,
            "ranking": self.rows,
            "excluded": self.excluded,
            "skipped": self.skipped,
            "heatmap": heat.to_dict() if heat else None,
        }


def run_sweep(
    spec: BacktestSpec,
    bars: Mapping[str, BarArrays],
    combinations: Sequence[Mapping[str, Any]],
    *,
    objective: str = "sharpe",
    direction: Direction = "maximize",
    min_trades: int = 0,
    max_drawdown: float | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    force_general: bool = False,
    skipped: int = 0,
) -> SweepResult:
    """Run leg 0 of `spec` with each parameter set and rank by the metric `objective` (one of
    `OBJECTIVES`; highest first unless `direction` is `minimize`).

    A run with fewer than `min_trades` trades or a maximum drawdown above `max_drawdown` (a
    fraction) is excluded; runs whose objective is undefined rank last. Ties keep grid order.
    `workers` defaults to every core. `progress(done, total)` is called as runs finish.
    `skipped` (combinations dropped by a rule between parameters) is reported as given.
    """
    if objective not in OBJECTIVES:
        raise InvalidRequest(
            f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}",
            field="objective",
        )
    if not combinations:
        raise InvalidRequest("the sweep has no valid parameter combination", field="grid")
    workers = workers or os.cpu_count() or 1
    if not force_general and fast_path_supported(spec, combinations):
        path: Literal["fast", "general"] = "fast"
        measured = fast_runs(spec, bars, combinations, progress, workers=workers)
    else:
        path = "general"
        measured = general_runs(spec, bars, combinations, workers, progress)
    scoring = Objective(
        metric=objective, direction=direction, min_trades=min_trades, max_drawdown=max_drawdown
    )
    rows, excluded = [], []
    for params, metrics in zip(combinations, measured, strict=True):
        row = {"params": dict(params), **metrics}
        reason = scoring.excluded_because(row["trades"], row["max_drawdown"])
        if reason is None:
            rows.append(row)
        else:
            excluded.append({**row, "excluded_because": reason})
    ordered = scoring.order(rows, lambda row: row[objective])
    ranked = [{"rank": i + 1, **row} for i, row in enumerate(ordered)]
    return SweepResult(objective, path, ranked, excluded, skipped)
