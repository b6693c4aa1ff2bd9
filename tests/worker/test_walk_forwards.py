"""Walk-forward jobs on real workers: folds fanned out as child jobs, the last one stitches;
stored report and curve; a failed fold fails the walk-forward; bad data fails once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.waiting import wait_until
from tests.worker.process import EventLog, WorkerProcess, job_row, send
from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.domain.events import JobKind, JobStatus
from velocitas.domain.timeframe import Timeframe
from velocitas.ingest import import_table
from velocitas.jobs import TASK_RUN_FOLD, TASK_RUN_WALK_FORWARD
from velocitas.synth import synth_bars
from worker.settling import settle
from worker.walk_forwards import create_fold_jobs

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


def _job(owner: uuid.UUID, spec: dict[str, Any] = SPEC) -> uuid.UUID:
    with session_scope() as session:
        job, _ = job_store.create_job(session, owner_id=owner, kind=JobKind.WALK_FORWARD, spec=spec)
        return job.id


def _store_bars(days: int = 10) -> None:
    import_table(synth_bars(days * 24, Timeframe.H1, seed=2), symbol="WF", timeframe="1h")


def _parent_with_folds(owner: uuid.UUID) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A running walk-forward whose fold jobs exist but none has run (as after the fan-out)."""
    job_id = _job(owner)
    with session_scope() as session:
        parent = job_store.mark_running(session, job_id)
        assert parent is not None
        folds = create_fold_jobs(session, parent)
        return job_id, [fold.id for fold in folds]


def _finish_fold(fold_id: uuid.UUID, index: int, params: dict[str, int] | None) -> None:
    with session_scope() as session:
        job_store.mark_running(session, fold_id)
        job_store.record_result(
            session, fold_id, summary={"fold": index, "params": params, "in_sample_objective": 1.0}
        )


@pytest.mark.slow
@pytest.mark.worker_processes
def test_folds_run_as_child_jobs_across_workers_and_the_last_one_stitches(
    workers: WorkerProcess, queue: str, owner: uuid.UUID, events: EventLog
) -> None:
    _store_bars()
    for _ in range(2):
        workers.start()
    wait_until(lambda: len(workers.ready()) == 2, 60, "both workers consumed")
    job_id = _job(owner, {**SPEC, "in_sample": "2d", "out_of_sample": "1d"})
    send(TASK_RUN_WALK_FORWARD, job_id, queue)
    job = wait_until(lambda: (j := job_row(job_id)).status in ("succeeded", "failed") and j, 90)
    assert job.status == "succeeded", job.error
    with session_scope() as session:
        folds = job_store.list_jobs(session, owner, parent_id=job_id, limit=100)
        top_level = job_store.list_jobs(session, owner)
    folds.sort(key=lambda fold: fold.spec["fold"])
    assert len(folds) == 8 == len(job.result_summary["folds"])
    assert {(fold.kind, fold.status) for fold in folds} == {("fold", "succeeded")}
    assert [fold.result_summary["params"] for fold in folds] == [
        reported["params"] for reported in job.result_summary["folds"]
    ]
    assert [j.id for j in top_level] == [job_id]  # folds are not listed as the user's jobs
    assert len(workers.took(TASK_RUN_FOLD)) == 2
    wait_until(lambda: "job.succeeded" in events.types(job_id), timeout=5)
    types = events.types(job_id)
    assert types[0] == "job.running"
    assert "job.progress" in types
    assert types.count("job.succeeded") == 1


def test_a_failed_fold_fails_the_walk_forward_with_its_reason(owner: uuid.UUID) -> None:
    _store_bars()
    job_id, folds = _parent_with_folds(owner)
    _finish_fold(folds[0], 0, {"fast": 3, "slow": 10})
    with session_scope() as session:
        job_store.mark_failed(session, folds[1], "internal error: boom")
    waiting = settle(job_id)
    assert waiting is not None
    assert waiting.status == JobStatus.RUNNING
    _finish_fold(folds[2], 2, None)
    settled = settle(job_id)
    assert settled is not None
    assert (settled.status, settled.error) == ("failed", "fold 1 failed: internal error: boom")
    assert settle(job_id) is None  # finished: left alone


@pytest.mark.slow
@pytest.mark.worker_processes
def test_a_redelivered_finished_fold_settles_a_walk_forward_left_waiting(
    workers: WorkerProcess, queue: str, owner: uuid.UUID
) -> None:
    # As if the worker died after storing the last fold's choice, before settling the parent:
    # the fold's redelivery is skipped (it finished) but still settles the parent.
    _store_bars()
    job_id, folds = _parent_with_folds(owner)
    for index, fold_id in enumerate(folds):
        _finish_fold(fold_id, index, None)  # no run qualified: every fold stays in cash
    assert job_row(job_id).status == "running"
    workers.start()
    send(TASK_RUN_FOLD, folds[-1], queue)
    job = wait_until(lambda: (j := job_row(job_id)).status in ("succeeded", "failed") and j, 60)
    assert job.status == "succeeded", job.error
    assert job.result_summary["final_equity"] == "10000"
    assert job_row(folds[-1]).attempts == 1  # skipped, not run again


@pytest.mark.slow
@pytest.mark.worker_processes
def test_walk_forward_job_stores_folds_and_stitched_equity(
    workers: WorkerProcess, queue: str, owner: uuid.UUID, events: EventLog
) -> None:
    _store_bars()
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


@pytest.mark.slow
@pytest.mark.worker_processes
def test_walk_forward_job_without_bars_fails_readably(
    workers: WorkerProcess, queue: str, owner: uuid.UUID
) -> None:
    workers.start()
    job_id = _job(owner)
    send(TASK_RUN_WALK_FORWARD, job_id, queue)
    job = wait_until(lambda: (j := job_row(job_id)).status == "failed" and j, 60)
    assert "WF" in (job.error or "")
    assert job.attempts == 1
