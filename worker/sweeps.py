"""Task `worker.sweeps.run`: fan a sweep's grid out as child backtest jobs over the workers.

Each child runs as an ordinary backtest; the last child to finish ranks the sweep
(`velocitas.db.sweeps.settle_parent`). See `worker.fan_out`.
"""

from __future__ import annotations

from celery import Task

from velocitas.db import sweeps as sweep_store
from velocitas.jobs import TASK_RUN_BACKTEST, TASK_RUN_SWEEP
from worker.app import app
from worker.fan_out import fan_out


@app.task(name=TASK_RUN_SWEEP, bind=True)
def run_sweep_job(self: Task, job_id: str) -> str:
    return fan_out(
        self, job_id, create_children=sweep_store.create_children, child_task=TASK_RUN_BACKTEST
    )
