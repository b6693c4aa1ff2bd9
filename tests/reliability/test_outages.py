"""Accepted jobs survive faults: a PostgreSQL outage, a Redis killed and restarted, a worker
killed while it runs a job. Real servers, real Celery worker processes, real (small) backtests;
each job must succeed with exactly one result write.

The figures (time to recovery, attempts) are printed for bench/RESULTS.md ("Reliability
(issue 12)"); run with `-s` to see them. Nothing here asserts a duration.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.reliability.conftest import WorkersFactory
from tests.reliability.jobs import Outcome, Submitter
from tests.reliability.servers import PrivatePostgres, PrivateRedis
from tests.support.waiting import wait_until
from tests.worker.process import WorkerProcess
from velocitas.jobs import TASK_RUN_BACKTEST

pytestmark = [pytest.mark.reliability, pytest.mark.worker_processes, pytest.mark.slow]

JOBS = 20


def _all_finished(submitter: Submitter, job_ids: list[uuid.UUID]) -> Outcome | None:
    outcome = submitter.outcome(job_ids)
    return outcome if outcome.finished else None


def _started(*handles: WorkerProcess) -> None:
    for handle in handles:
        handle.start()
    wait_until(
        lambda: all(handle.ready() == set(handle.names) for handle in handles),
        timeout=90,
        message="the workers answered a ping",
        interval=0.5,
    )


def _report(fault: str, outcome: Outcome, recovered_s: float) -> None:
    print(
        f"\nRELIABILITY {fault}: {outcome.succeeded}/{len(outcome.status)} succeeded,"
        f" {len(outcome.status) - outcome.succeeded} lost, {outcome.duplicates} duplicate"
        f" result writes, {sum(outcome.attempts.values())} attempts,"
        f" all done {recovered_s:.1f} s after the fault ended"
    )


def _assert_each_job_ran_once(outcome: Outcome) -> None:
    assert outcome.succeeded == JOBS, outcome.status
    assert set(outcome.writes.values()) == {1}, outcome.writes
    (trades,) = set(outcome.trades.values())  # the same ledger for each job, stored once
    assert trades > 0


@pytest.mark.parametrize("outage_s", [3, 30])
def test_postgres_outage_with_jobs_queued_loses_none(
    outage_s: int,
    private_postgres: PrivatePostgres,
    private_database: str,
    redis_url: str,
    workers: WorkersFactory,
    submitter: Submitter,
) -> None:
    submitter.prepare()
    handle = workers(private_database, redis_url)
    _started(handle, handle)  # two worker processes
    job_ids = submitter.create(JOBS)  # accepted: rows committed

    private_postgres.stop()
    submitter.send(job_ids)  # the messages arrive while the database is away
    time.sleep(outage_s)  # the outage itself
    private_postgres.start()
    back_at = time.monotonic()

    outcome = wait_until(lambda: _all_finished(submitter, job_ids), 120, "every job finished")
    _report(f"PostgreSQL stopped {outage_s} s", outcome, time.monotonic() - back_at)
    _assert_each_job_ran_once(outcome)


def test_redis_killed_and_restarted_loses_no_job(
    database_url: str, private_redis: PrivateRedis, workers: WorkersFactory, submitter: Submitter
) -> None:
    submitter.prepare()
    handle = workers(database_url, private_redis.url)
    _started(handle, handle)
    job_ids = submitter.create(JOBS)
    submitter.send(job_ids)

    private_redis.kill()  # kill -9, the queue mostly still waiting
    private_redis.start()  # on the same data: what its append-only log kept
    back_at = time.monotonic()

    outcome = wait_until(lambda: _all_finished(submitter, job_ids), 120, "every job finished")
    _report("Redis kill -9 and restart", outcome, time.monotonic() - back_at)
    _assert_each_job_ran_once(outcome)


def test_worker_killed_while_running_a_job_another_completes_it(
    database_url: str, redis_url: str, workers: WorkersFactory, submitter: Submitter
) -> None:
    submitter.prepare()
    # The queue's own redelivery waits for the visibility timeout (here 10 minutes, an hour in
    # production): finishing within the deadline below takes the reconciler.
    slow = {
        "RELIABILITY_BACKTEST_S": "3",
        "WORKER_TIME_LIMIT_S": "500",
        "WORKER_VISIBILITY_TIMEOUT_S": "600",
    }
    first, second = (
        workers(database_url, redis_url, **slow),
        workers(database_url, redis_url, **slow),
    )
    _started(first, second)
    (job_id,) = submitter.create(1)
    submitter.send([job_id])
    wait_until(
        lambda: submitter.outcome([job_id]).status[job_id] == "running", 30, "the job started"
    )
    (runner,) = [handle for handle in (first, second) if handle.took(TASK_RUN_BACKTEST)]

    runner.kill_hard(runner.processes[0])  # kill -9 of the worker and its pool: a lost machine
    killed_at = time.monotonic()

    outcome = wait_until(lambda: _all_finished(submitter, [job_id]), 60, "the job finished")
    _report("worker kill -9 mid-job", outcome, time.monotonic() - killed_at)
    assert outcome.status[job_id] == "succeeded"
    assert outcome.attempts[job_id] == 2  # the lost run and the one that finished
    assert outcome.writes[job_id] == 1
