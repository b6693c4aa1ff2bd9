"""The reconciler's parts on a real database: one leader, lost running jobs queued again once,
parents nobody settled found."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from tests.worker.process import job_row, new_job
from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobKind
from worker.reconciler import Leadership

STALE = timedelta(seconds=30)


def _running(
    owner: uuid.UUID, *, beat_ago: timedelta, parent: uuid.UUID | None = None
) -> uuid.UUID:
    with session_scope() as session:
        job, _ = job_store.create_job(
            session, owner_id=owner, kind=JobKind.BACKTEST, spec={}, parent_id=parent
        )
        job_store.mark_running(session, job.id)
        session.execute(
            update(BacktestJob)
            .where(BacktestJob.id == job.id)
            .values(heartbeat_at=datetime.now(UTC) - beat_ago)
        )
        return job.id


def _requeue() -> list[tuple[uuid.UUID, JobKind]]:
    with session_scope() as session:
        return job_store.requeue_stalled_jobs(session, stale_after=STALE)


def test_leadership_has_one_holder_until_it_lets_go(database_url: str) -> None:
    first, second = Leadership(), Leadership()
    try:
        assert first.held()
        assert not second.held()
        assert first.held()  # kept, round after round
        first.release()  # as a worker stopping does: the lock is free at once
        assert second.held()
    finally:
        first.release()
        second.release()


def test_requeue_stalled_jobs_gives_each_lost_job_back_once(owner: uuid.UUID) -> None:
    lost = _running(owner, beat_ago=timedelta(minutes=5))
    alive = _running(owner, beat_ago=timedelta(seconds=1))

    assert _requeue() == [(lost, JobKind.BACKTEST)]
    assert _requeue() == []  # a second reconciler finds it queued already
    assert job_row(lost).status == "queued"
    assert job_row(lost).attempts == 1  # the next delivery counts the next attempt
    assert job_row(alive).status == "running"


def test_requeue_stalled_jobs_leaves_a_parent_waiting_for_its_children(owner: uuid.UUID) -> None:
    parent = _running(owner, beat_ago=timedelta(minutes=5))  # no worker beats for a parent
    _running(owner, beat_ago=timedelta(seconds=1), parent=parent)

    assert _requeue() == []
    assert job_row(parent).status == "running"


def test_beat_refreshes_a_running_job_only(owner: uuid.UUID) -> None:
    running = _running(owner, beat_ago=timedelta(minutes=5))
    queued = new_job(owner, {})
    with session_scope() as session:
        assert job_store.beat(session, running)
        assert not job_store.beat(session, queued)
    assert _requeue() == []


def test_unsettled_parents_are_those_whose_children_all_finished_a_while_ago(
    owner: uuid.UUID,
) -> None:
    stuck = _running(owner, beat_ago=timedelta(minutes=5))
    waiting = _running(owner, beat_ago=timedelta(minutes=5))
    for parent, finished_ago in ((stuck, timedelta(minutes=2)), (waiting, timedelta(0))):
        child = _running(owner, beat_ago=timedelta(seconds=1), parent=parent)
        with session_scope() as session:
            assert job_store.record_result(session, child, summary={})
            session.execute(
                update(BacktestJob)
                .where(BacktestJob.id == child)
                .values(finished_at=datetime.now(UTC) - finished_ago)
            )
    _running(owner, beat_ago=timedelta(seconds=1), parent=waiting)  # still running

    with session_scope() as session:
        assert job_store.unsettled_parents(session, idle_for=STALE) == [stuck]
