"""Tasks of walk-forward jobs, fanned out over the workers one fold at a time.

`worker.walk_forwards.run` creates one `fold` child job per fold and sends them (see
`worker.fan_out`); `worker.walk_forwards.fold` runs one fold's in-sample sweep on whichever
worker takes it and stores the choice; the last fold to finish stitches the out-of-sample
segments into the parent's result (`velocitas.db.walk_forwards.settle_parent`).
"""

from __future__ import annotations

from celery import Task

from velocitas import walk_forwards
from velocitas.db import walk_forwards as walk_forward_store
from velocitas.db.bar_cache import load_bars_cached
from velocitas.engine.version import ENGINE_VERSION
from velocitas.jobs import TASK_RUN_FOLD, TASK_RUN_WALK_FORWARD
from worker.app import app
from worker.fan_out import fan_out
from worker.lifecycle import JobContext, JobOutcome, run_job

_LOADED = 0.2


@app.task(name=TASK_RUN_WALK_FORWARD, bind=True)
def run_walk_forward_job(self: Task, job_id: str) -> str:
    return fan_out(
        self,
        job_id,
        create_children=walk_forward_store.create_fold_jobs,
        child_task=TASK_RUN_FOLD,
    )


@app.task(name=TASK_RUN_FOLD, bind=True)
def run_fold_job(self: Task, job_id: str) -> str:
    return run_job(self, job_id, execute_fold)


def execute_fold(context: JobContext) -> JobOutcome:
    """Load the fold's bars (in-sample start to out-of-sample end) and sweep in sample."""
    spec, index = walk_forward_store.fold_of(context.spec)
    plan = walk_forwards.plan(spec)
    fold = plan.folds[index]
    base = spec.base
    series, digest = load_bars_cached(
        base.legs[0].symbol, base.timeframe, fold.in_sample_start, fold.out_of_sample_end
    )
    context.progress(_LOADED, force=True)
    choice = walk_forwards.optimise(spec, plan, index, series)
    return JobOutcome(
        summary={"fold": index, **walk_forwards.summary_of_choice(choice)},
        data_snapshot_hash=digest,
        engine_version=ENGINE_VERSION,
    )
