"""Task `worker.sweeps.run`: fan a sweep's grid out as child backtest jobs over the workers.

The sweep task only creates the children (once: they are keyed by grid position) and sends
their ids; each child runs as an ordinary backtest on whichever worker takes it, and the last
child to finish ranks the sweep (`worker.lifecycle.settle_parent_of`).
"""

from __future__ import annotations

import logging
import uuid

from celery import Task
from pydantic import ValidationError

from core.db import jobs as job_store
from core.db import sweeps as sweep_store
from core.db.engine import session_scope
from core.jobs import TASK_RUN_BACKTEST, TASK_RUN_SWEEP, JobStatus, jobs_queue
from worker.app import app
from worker.lifecycle import JobContext, settle_parent_of, transient_errors

log = logging.getLogger(__name__)


@app.task(name=TASK_RUN_SWEEP, bind=True)
def run_sweep_job(self: Task, job_id: str) -> str:
    return fan_out(self, job_id, child_task=TASK_RUN_BACKTEST)


def fan_out(task: Task, job_id: str, *, child_task: str) -> str:
    """Mark the sweep running, create its children, commit, then send the unfinished ones."""
    error = None
    with transient_errors(), session_scope() as session:
        parent = job_store.mark_running(session, uuid.UUID(job_id))
        if parent is None:
            return "skipped"
        context = JobContext(parent.id, parent.owner_id, parent.kind, {}, parent.attempts)
        try:
            with session.begin_nested():
                children = sweep_store.create_children(session, parent)
        except (ValidationError, KeyError, IndexError, TypeError) as exc:
            # The gateway validates sweeps before queueing; this guards rows written otherwise.
            error = f"the sweep cannot be expanded: {type(exc).__name__}: {exc}"
            job_store.mark_failed(session, parent.id, error)
    if error is not None:
        context.publish("job.failed", JobStatus.FAILED, progress=0.0, error=error)
        return "failed"
    pending = [c.id for c in children if not JobStatus(c.status).finished]
    context.publish("job.running", JobStatus.RUNNING, progress=0.0)
    with transient_errors():
        for child_id in pending:
            task.app.send_task(
                child_task, args=[str(child_id)], task_id=str(child_id), queue=jobs_queue()
            )
    if not pending and children:  # redelivered after every child had finished
        settle_parent_of(JobContext(children[0].id, parent.owner_id, "backtest", {}, 0, parent.id))
    log.info("sweep %s: %d runs, %d sent", job_id, len(children), len(pending))
    return "fanned out"
