"""The job lifecycle on a real worker process: success, bad data, retries, lost workers,
cancellation. The work is the test-only sleepy task; the lifecycle around it is the product's."""

from __future__ import annotations

import uuid

import pytest

from tests.support.waiting import wait_until
from tests.worker.process import (
    FAST_REDELIVERY,
    EventLog,
    WorkerProcess,
    job_row,
    new_job,
    send,
)
from tests.worker.sleepy_tasks import TASK_SLEEPY
from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope

pytestmark = [pytest.mark.worker_processes, pytest.mark.slow]


def _finished(job_id: uuid.UUID):  # type: ignore[no-untyped-def]
    def check():  # type: ignore[no-untyped-def]
        job = job_row(job_id)
        return job if job.status in ("succeeded", "failed", "cancelled") else None

    return check


def _results(job_id: uuid.UUID, owner: uuid.UUID) -> tuple[int, int]:
    with session_scope() as session:
        trades = job_store.list_trades(session, job_id, owner, limit=1000)
        equity = job_store.list_equity(session, job_id, owner, limit=1000)
    return len(trades), len(equity)


def test_run_job_succeeds_with_results_and_events_in_order(
    workers: WorkerProcess, queue: str, owner: uuid.UUID, events: EventLog
) -> None:
    workers.start()
    job_id = new_job(owner, {"steps": 4, "step_s": 0.05})
    send(TASK_SLEEPY, job_id, queue)
    job = wait_until(_finished(job_id))
    assert job.status == "succeeded"
    assert (job.progress, job.attempts, job.engine_version) == (1.0, 1, "sleepy")
    assert job.started_at <= job.finished_at
    assert _results(job_id, owner) == (4, 4)
    wait_until(lambda: "job.succeeded" in events.types(job_id), timeout=5)
    assert events.types(job_id) == ["job.running"] + ["job.progress"] * 4 + ["job.succeeded"]
    progress = [e.progress for e in events.events if e.job_id == job_id]
    assert progress == sorted(progress)


def test_run_job_bad_data_fails_once_with_readable_error(
    workers: WorkerProcess, queue: str, owner: uuid.UUID, events: EventLog
) -> None:
    workers.start()
    job_id = new_job(owner, {"mode": "invalid"})
    send(TASK_SLEEPY, job_id, queue)
    job = wait_until(_finished(job_id))
    assert job.status == "failed"
    assert job.error == "data: bar 17 has high below low"
    assert job.attempts == 1
    wait_until(lambda: "job.failed" in events.types(job_id), timeout=5)
    assert events.types(job_id) == ["job.running", "job.failed"]


def test_run_job_transient_error_retries_with_bound_then_fails(
    workers: WorkerProcess, queue: str, owner: uuid.UUID
) -> None:
    workers.start()
    job_id = new_job(owner, {"mode": "transient"})
    send(TASK_SLEEPY, job_id, queue)
    job = wait_until(_finished(job_id), timeout=60)
    assert job.status == "failed"
    assert job.attempts == 3  # WORKER_MAX_ATTEMPTS in tests
    assert "gave up after 3 attempts" in (job.error or "")
    assert "the database went away" in (job.error or "")


def test_run_job_that_kills_its_worker_is_not_redelivered_forever(
    workers: WorkerProcess, queue: str, owner: uuid.UUID
) -> None:
    workers.start()
    job_id = new_job(owner, {"mode": "crash"})
    send(TASK_SLEEPY, job_id, queue)
    job = wait_until(_finished(job_id), timeout=90)
    assert job.status == "failed"
    assert "gave up after 3 attempts" in (job.error or "")


def test_run_job_worker_killed_mid_job_completes_exactly_once(
    workers: WorkerProcess, queue: str, owner: uuid.UUID, events: EventLog
) -> None:
    workers.env.update(FAST_REDELIVERY)
    first = workers.start()
    # 4 s of work (under the 6 s time limit): on a loaded machine the kill must still land
    # well before the job ends.
    job_id = new_job(owner, {"steps": 10, "step_s": 0.4})
    send(TASK_SLEEPY, job_id, queue)
    wait_until(lambda: job_row(job_id).progress >= 0.2)
    workers.kill_hard(first)  # kill -9 the worker and its pool: no ack, no clean-up
    assert job_row(job_id).status == "running"
    workers.start()  # a fresh worker picks the job up once the visibility timeout passes
    job = wait_until(_finished(job_id), timeout=90)
    assert job.status == "succeeded"
    assert job.attempts == 2
    assert job.result_summary == {"steps": 10, "attempt": 2, "metrics": {"score": 10}}
    assert _results(job_id, owner) == (10, 10)
    wait_until(lambda: "job.succeeded" in events.types(job_id), timeout=5)
    assert events.types(job_id).count("job.succeeded") == 1
    assert events.types(job_id).count("job.running") == 2


def test_cancel_running_job_stops_it_and_frees_the_worker(
    workers: WorkerProcess, queue: str, owner: uuid.UUID, events: EventLog
) -> None:
    workers.start()
    long_job = new_job(owner, {"steps": 100, "step_s": 0.1})
    send(TASK_SLEEPY, long_job, queue)
    wait_until(lambda: job_row(long_job).progress >= 0.02)
    with session_scope() as session:
        job_store.cancel_job(session, long_job, owner)
    short_job = new_job(owner, {"steps": 1, "step_s": 0.01})
    send(TASK_SLEEPY, short_job, queue)
    # One worker process, prefetch 1: the short job runs only once the long one has stopped,
    # well before its 10 s of work would have ended.
    assert wait_until(_finished(short_job), timeout=8).status == "succeeded"
    cancelled = job_row(long_job)
    assert cancelled.status == "cancelled"
    assert cancelled.progress < 0.5
    assert _results(long_job, owner) == (0, 0)
    assert "job.succeeded" not in events.types(long_job)
