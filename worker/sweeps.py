"""Task `worker.sweeps.run`: fan a sweep's grid out as child backtest jobs over the workers.

Each child runs as an ordinary backtest; the last child to finish ranks the sweep
(`worker.settling`). See `worker.fan_out`.
"""

from __future__ import annotations

from celery import Task
from sqlalchemy.orm import Session

from velocitas.db.children import create_children as create_child_jobs
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobKind
from velocitas.jobs import TASK_RUN_BACKTEST, TASK_RUN_SWEEP
from velocitas.research.sweeps import SweepSpec, expand
from worker.app import app
from worker.fan_out import fan_out


@app.task(name=TASK_RUN_SWEEP, bind=True, max_retries=None)
def run_sweep_job(self: Task, job_id: str) -> str:
    return fan_out(self, job_id, create_children=create_children, child_task=TASK_RUN_BACKTEST)


def create_children(session: Session, parent: BacktestJob) -> list[BacktestJob]:
    """The sweep's child backtest jobs, one per point of its grid (created once)."""
    spec = SweepSpec.model_validate(parent.spec)
    runs = enumerate(child for _, child in expand(spec))
    return create_child_jobs(session, parent, JobKind.BACKTEST, runs)
