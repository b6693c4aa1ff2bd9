"""Tasks of walk-forward jobs, fanned out over the workers one fold at a time.

`worker.walk_forwards.run` creates one `fold` child job per fold and sends them (see
`worker.fan_out`); `worker.walk_forwards.fold` runs one fold's in-sample sweep on whichever
worker takes it and stores the choice; the last fold to finish stitches the out-of-sample
segments into the parent's result (`worker.settling`).
"""

from __future__ import annotations

from celery import Task
from sqlalchemy.orm import Session

from velocitas.db.bar_cache import load_bars_cached
from velocitas.db.children import create_children
from velocitas.db.coverage import require_stored_bars
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobKind
from velocitas.engine.version import ENGINE_VERSION
from velocitas.jobs import TASK_RUN_FOLD, TASK_RUN_WALK_FORWARD
from velocitas.research import walk_forward_spec
from velocitas.research.walk_forward_spec import WalkForwardSpec
from worker.app import app
from worker.fan_out import fan_out
from worker.lifecycle import JobContext, JobOutcome, run_job

_LOADED = 0.2


@app.task(name=TASK_RUN_WALK_FORWARD, bind=True, max_retries=None)
def run_walk_forward_job(self: Task, job_id: str) -> str:
    return fan_out(
        self,
        job_id,
        create_children=create_fold_jobs,
        child_task=TASK_RUN_FOLD,
    )


def create_fold_jobs(session: Session, parent: BacktestJob) -> list[BacktestJob]:
    """The walk-forward's fold jobs (created once). Raises `InvalidRequest` when the spec
    cannot run at all (no fold fits, no bars stored in its range)."""
    spec = WalkForwardSpec.model_validate(parent.spec)
    walk_forward_spec.validate(spec)
    base, leg = spec.base, spec.base.legs[0]
    require_stored_bars(
        session, leg.symbol, base.timeframe, base.start, base.end, field="base.symbol"
    )
    folds = walk_forward_spec.plan(spec).folds
    return create_children(
        session,
        parent,
        JobKind.FOLD,
        [(fold.index, walk_forward_spec.fold_job_spec(parent.spec, fold.index)) for fold in folds],
    )


@app.task(name=TASK_RUN_FOLD, bind=True, max_retries=None)
def run_fold_job(self: Task, job_id: str) -> str:
    return run_job(self, job_id, execute_fold)


def execute_fold(context: JobContext) -> JobOutcome:
    """Load the fold's bars (in-sample start to out-of-sample end) and sweep in sample."""
    spec, index = walk_forward_spec.fold_of(context.spec)
    plan = walk_forward_spec.plan(spec)
    fold = plan.folds[index]
    base = spec.base
    series, digest = load_bars_cached(
        base.legs[0].symbol, base.timeframe, fold.in_sample_start, fold.out_of_sample_end
    )
    context.progress(_LOADED, force=True)
    choice = walk_forward_spec.optimise(spec, plan, index, series)
    return JobOutcome(
        summary={"fold": index, **walk_forward_spec.summary_of_choice(choice)},
        data_snapshot_hash=digest,
        engine_version=ENGINE_VERSION,
    )
