"""Task `worker.walk_forwards.run`: one walk-forward job, from the stored spec to its report.

The stitched out-of-sample equity curve is stored like a backtest's (keyed by job id, so a
redelivery overwrites it); the summary holds the folds, their parameters and the metrics.
"""

from __future__ import annotations

import math
from typing import Any

from celery import Task

from core.db.bars import load_bars, snapshot_hash
from core.engine.version import ENGINE_VERSION
from core.jobs import TASK_RUN_WALK_FORWARD
from core.walk_forwards import WalkForwardSpec, execute
from worker.app import app
from worker.lifecycle import JobContext, JobOutcome, run_job

_LOADED = 0.1


@app.task(name=TASK_RUN_WALK_FORWARD, bind=True)
def run_walk_forward_job(self: Task, job_id: str) -> str:
    return run_job(self, job_id, execute_walk_forward)


def execute_walk_forward(context: JobContext) -> JobOutcome:
    spec = WalkForwardSpec.model_validate(context.spec)
    base = spec.base
    symbol = base.legs[0].symbol
    digest = snapshot_hash(symbol, base.timeframe, base.start, base.end)
    bars = {symbol: load_bars(symbol, base.timeframe, base.start, base.end)}
    context.progress(_LOADED, force=True)

    def on_fold(done: int, total: int) -> None:
        context.progress(_LOADED + (1 - _LOADED) * 0.99 * done / total)

    result = execute(spec, bars, workers=1, progress=on_fold)
    summary = result.to_dict()
    summary["metrics"] = {k: _finite(v) for k, v in result.metrics.items()}
    return JobOutcome(
        summary=_finite_tree(summary),
        equity_opened_at_ns=result.opened_at,
        equity=result.equity,
        data_snapshot_hash=digest,
        engine_version=ENGINE_VERSION,
    )


def _finite(value: Any) -> Any:
    # JSONB has no NaN or infinity: those become null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _finite_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_tree(v) for v in value]
    return _finite(value)
