"""Jobs left `queued` without a message are sent again by the reconciler."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from celery import Celery
from sqlalchemy import update

from tests.support.waiting import wait_until
from tests.worker.process import WorkerProcess, job_row, new_job
from velocitas.db.engine import session_scope
from velocitas.db.models import BacktestJob
from velocitas.jobs import broker_url
from worker.redispatch import Redispatcher


def _age(job_id: uuid.UUID, by: timedelta) -> None:
    with session_scope() as session:
        session.execute(
            update(BacktestJob)
            .where(BacktestJob.id == job_id)
            .values(created_at=datetime.now(UTC) - by)
        )


def test_redispatch_sends_a_job_seen_without_message_on_two_rounds_once(
    queue: str, owner: uuid.UUID
) -> None:
    lost = new_job(owner, {})
    _age(lost, timedelta(hours=1))
    fresh = new_job(owner, {})  # its send may still be on the way: left alone
    producer = Celery("test-producer", broker=broker_url(), set_as_current=False)
    redispatcher = Redispatcher(producer)

    assert redispatcher.round() == []  # a suspect: a worker may be taking its message
    assert redispatcher.round() == [lost]
    # Its message now waits in the queue: the next round does not send it again.
    assert redispatcher.round() == []
    assert job_row(fresh).status == "queued"


@pytest.mark.slow
@pytest.mark.worker_processes
def test_worker_runs_a_job_whose_send_was_lost(
    workers: WorkerProcess, queue: str, owner: uuid.UUID
) -> None:
    lost = new_job(owner, {"symbol": "NONE"})
    _age(lost, timedelta(hours=1))
    workers.env["WORKER_RECONCILE_INTERVAL_S"] = "1"
    workers.start()

    def taken() -> BacktestJob | None:
        job = job_row(lost)
        return job if job.status != "queued" else None

    job = wait_until(taken, timeout=60)
    assert job.attempts == 1
