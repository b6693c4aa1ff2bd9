"""Walk-forward jobs on a real worker: stored report and stitched curve; bad data fails once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from core.db import jobs as job_store
from core.db.engine import session_scope
from core.domain.timeframe import Timeframe
from core.ingest import import_table
from core.jobs import TASK_RUN_WALK_FORWARD, JobKind
from core.synth import synth_bars
from tests.worker.process import EventLog, WorkerProcess, job_row, send, wait_until

SPEC: dict[str, Any] = {
    "base": {
        "symbol": "WF",
        "timeframe": "1h",
        "start": "2024-01-01T00:00:00Z",
        "end": "2024-01-11T00:00:00Z",
        "initial_cash": "10000",
        "strategy": {"name": "sma_cross", "params": {}},
    },
    "grid": {"fast": [3, 5], "slow": [10, 20]},
    "in_sample": "4d",
    "out_of_sample": "2d",
}


def _job(owner: uuid.UUID) -> uuid.UUID:
    with session_scope() as session:
        job, _ = job_store.create_job(session, owner_id=owner, kind=JobKind.WALK_FORWARD, spec=SPEC)
        return job.id


def test_walk_forward_job_stores_folds_and_stitched_equity(
    workers: WorkerProcess, queue: str, owner: uuid.UUID, events: EventLog
) -> None:
    import_table(synth_bars(10 * 24, Timeframe.H1, seed=2), symbol="WF", timeframe="1h")
    workers.start()
    job_id = _job(owner)
    send(TASK_RUN_WALK_FORWARD, job_id, queue)
    job = wait_until(lambda: (j := job_row(job_id)).status in ("succeeded", "failed") and j, 90)
    assert job.status == "succeeded", job.error
    summary = job.result_summary
    assert len(summary["folds"]) == 3
    assert all(f["params"] is not None for f in summary["folds"])
    assert summary["metrics"]["bars"] == 6 * 24
    assert job.data_snapshot_hash
    assert job.engine_version
    with session_scope() as session:
        points = job_store.list_equity(session, job_id, owner, after=-1, limit=1000)
    assert len(points) == 6 * 24
    assert float(points[-1].equity) == pytest.approx(float(summary["final_equity"]), rel=1e-9)
    wait_until(lambda: "job.succeeded" in events.types(job_id), timeout=5)
    assert events.types(job_id)[0] == "job.running"


def test_walk_forward_job_without_bars_fails_readably(
    workers: WorkerProcess, queue: str, owner: uuid.UUID
) -> None:
    workers.start()
    job_id = _job(owner)
    send(TASK_RUN_WALK_FORWARD, job_id, queue)
    job = wait_until(lambda: (j := job_row(job_id)).status == "failed" and j, 60)
    assert "WF" in (job.error or "")
    assert job.attempts == 1
