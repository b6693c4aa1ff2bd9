"""Settling a parent job: under its row lock, progress and a claim that exactly one call gets."""

from __future__ import annotations

import uuid

from velocitas.db import jobs as job_store
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.domain.events import JobKind


def _parent_with_children(count: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    with session_scope() as session:
        owner = create_user(session, f"settler-{uuid.uuid4().hex[:6]}").user.id
        parent, _ = job_store.create_job(session, owner_id=owner, kind=JobKind.SWEEP, spec={})
        job_store.mark_running(session, parent.id)
        children = [
            job_store.create_job(
                session,
                owner_id=owner,
                kind=JobKind.BACKTEST,
                spec={"run": index},
                idempotency_key=f"sweep:{parent.id}:{index}",
                parent_id=parent.id,
            )[0].id
            for index in range(count)
        ]
        return parent.id, children


def _finish(child_id: uuid.UUID) -> None:
    with session_scope() as session:
        job_store.mark_running(session, child_id)
        assert job_store.record_result(session, child_id, summary={})


def _claim(
    parent_id: uuid.UUID, *, share: float = 1.0, take_over: bool = False
) -> job_store.Settling | None:
    with session_scope() as session:
        return job_store.claim_settling(session, parent_id, share=share, take_over=take_over)


def test_claim_settling_before_the_last_child_only_advances_progress(database_url: str) -> None:
    parent_id, children = _parent_with_children(2)
    _finish(children[0])
    settling = _claim(parent_id, share=0.99)
    assert settling is not None
    assert not settling.complete
    assert settling.parent.progress == 0.99 / 2


def test_claim_settling_is_granted_once_when_every_child_has_finished(database_url: str) -> None:
    parent_id, children = _parent_with_children(2)
    for child in children:
        _finish(child)
    first = _claim(parent_id, share=0.99)
    assert first is not None
    assert first.complete
    assert first.parent.progress == 0.99
    assert _claim(parent_id, share=0.99) is None  # another child finishing at once: not its job
    taken_over = _claim(parent_id, share=0.99, take_over=True)  # a redelivery takes it over
    assert taken_over is not None
    assert taken_over.complete
    with session_scope() as session:
        assert job_store.record_result(session, parent_id, summary={"ranked": True})
    with session_scope() as session:  # the conditional write records once
        assert not job_store.record_result(session, parent_id, summary={"ranked": False})
    assert _claim(parent_id, take_over=True) is None  # finished: left alone
