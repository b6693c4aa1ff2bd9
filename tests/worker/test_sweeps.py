"""Sweeps on a real worker: children fanned out, the last one ranks the parent."""

from __future__ import annotations

import uuid

import pytest

from tests.support.waiting import wait_until
from tests.worker.process import EventLog, WorkerProcess, job_row, send
from tests.worker.sleepy_tasks import TASK_SLEEPY_SWEEP
from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.domain.events import JobKind

pytestmark = [pytest.mark.worker_processes, pytest.mark.slow]

BASE = {"legs": [{"symbol": "TEST", "strategy": {"name": "sleepy", "params": {}}}], "step_s": 0.01}


def _sweep(owner: uuid.UUID, grid: dict[str, list[object]]) -> uuid.UUID:
    with session_scope() as session:
        job, _ = job_store.create_job(
            session,
            owner_id=owner,
            kind=JobKind.SWEEP,
            spec={"base": BASE, "grid": grid, "rank_by": "score"},
        )
        return job.id


def test_sweep_fans_out_children_and_ranks_when_all_finish(
    workers: WorkerProcess, queue: str, owner: uuid.UUID, events: EventLog
) -> None:
    workers.start()
    sweep_id = _sweep(owner, {"steps": [1, 3, 2]})
    send(TASK_SLEEPY_SWEEP, sweep_id, queue)
    sweep = wait_until(lambda: (j := job_row(sweep_id)).status == "succeeded" and j, timeout=60)
    summary = sweep.result_summary
    assert [r["params"] for r in summary["ranking"]] == [{"steps": 3}, {"steps": 2}, {"steps": 1}]
    assert [r["score"] for r in summary["ranking"]] == [3.0, 2.0, 1.0]
    assert (summary["runs"], summary["failed"]) == (3, [])
    with session_scope() as session:
        children = job_store.list_jobs(session, owner, parent_id=sweep_id)
        top_level = job_store.list_jobs(session, owner)
    assert {c.status for c in children} == {"succeeded"}
    assert len(children) == 3
    assert [j.id for j in top_level] == [sweep_id]  # children are not listed as the user's jobs
    wait_until(lambda: "job.succeeded" in events.types(sweep_id), timeout=5)
    types = events.types(sweep_id)
    assert types[0] == "job.running"
    assert types[-1] == "job.succeeded"
    assert types.count("job.succeeded") == 1


def test_sweep_with_a_failing_child_still_finishes_and_reports_it(
    workers: WorkerProcess, queue: str, owner: uuid.UUID
) -> None:
    workers.start()
    sweep_id = _sweep(owner, {"mode": ["ok", "invalid"]})  # the second run fails on bad data
    send(TASK_SLEEPY_SWEEP, sweep_id, queue)
    sweep = wait_until(lambda: (j := job_row(sweep_id)).status == "succeeded" and j, timeout=60)
    failed = sweep.result_summary["failed"]
    assert len(sweep.result_summary["ranking"]) == 1
    assert [f["params"] for f in failed] == [{"mode": "invalid"}]
    assert "bar 17" in failed[0]["error"]


def test_sweep_that_cannot_be_expanded_fails_readably(
    workers: WorkerProcess, queue: str, owner: uuid.UUID
) -> None:
    workers.start()
    with session_scope() as session:
        job, _ = job_store.create_job(
            session,
            owner_id=owner,
            kind=JobKind.SWEEP,
            spec={"base": BASE, "leg": 3, "grid": {"steps": [1]}},  # the base has one leg
        )
    send(TASK_SLEEPY_SWEEP, job.id, queue)
    failed = wait_until(lambda: (j := job_row(job.id)).status == "failed" and j, timeout=60)
    assert "cannot be expanded" in (failed.error or "")
    with session_scope() as session:
        assert job_store.list_jobs(session, owner, parent_id=job.id) == []
