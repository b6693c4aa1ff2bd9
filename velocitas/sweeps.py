"""Parameter sweeps: a grid over one leg's strategy parameters, run as child backtest jobs and
ranked by a metric once every child has finished.

A sweep is a parent job (kind `sweep`) whose children are ordinary backtest jobs (`parent_id`
set), so each child is queued, retried, cancelled and stored exactly like any backtest, and
workers scale a sweep out for free. The last child to finish ranks the results (see
`velocitas.db.sweeps.settle_parent`); no Celery result backend or chord is needed.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MAX_RUNS", "SweepSpec", "expand", "rank"]

MAX_RUNS = 1000
"""The largest grid one sweep may ask for."""


class SweepSpec(BaseModel):
    """A sweep request: `base` backtest, the `grid` of `legs[leg]` strategy parameters to try,
    and how to rank the runs (`rank_by` names a metric of the backtest report)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: dict[str, Any]
    leg: int = Field(default=0, ge=0)
    grid: dict[str, list[Any]] = Field(min_length=1, max_length=8)
    rank_by: str = Field(default="sharpe", min_length=1)
    descending: bool = True

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
    """Every (params, child backtest spec) of the grid, in a stable order (sorted names,
    values as given). `spec.base` must be in legs form (a normalised `BacktestSpec` dump)."""
    names = sorted(spec.grid)
    runs = []
    for values in itertools.product(*(spec.grid[name] for name in names)):
        params = dict(zip(names, values, strict=True))
        child = _deep_copy(spec.base)
        strategy = child["legs"][spec.leg]["strategy"]
        strategy["params"] = {**strategy.get("params", {}), **params}
        runs.append((params, child))
    return runs


def rank(spec: SweepSpec, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The sweep's report from its children: each run is {"job_id", "params", "status",
    "summary", "error"}. Succeeded runs are ordered by `rank_by` (missing values last)."""

    def score(run: dict[str, Any]) -> float | None:
        value = ((run.get("summary") or {}).get("metrics") or {}).get(spec.rank_by)
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    succeeded = [r for r in runs if r["status"] == "succeeded"]
    scored = sorted(
        (r for r in succeeded if score(r) is not None),
        key=lambda r: score(r) or 0.0,
        reverse=spec.descending,
    )
    unscored = [r for r in succeeded if score(r) is None]
    ranking = [
        {
            "rank": i + 1,
            "job_id": r["job_id"],
            "params": r["params"],
            spec.rank_by: score(r),
            "final_equity": (r.get("summary") or {}).get("final_equity"),
        }
        for i, r in enumerate(scored + unscored)
    ]
    failed = [
        {"job_id": r["job_id"], "params": r["params"], "status": r["status"], "error": r["error"]}
        for r in runs
        if r["status"] != "succeeded"
    ]
    return {"rank_by": spec.rank_by, "runs": len(runs), "ranking": ranking, "failed": failed}


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
