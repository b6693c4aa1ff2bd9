"""Settling a parent in this process (no worker): ranked or stitched outside the lock, recorded
once however many finishing children or redeliveries settle it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from velocitas.db import jobs as job_store
from velocitas.db.children import create_children
from velocitas.db.engine import session_scope
from velocitas.domain.events import JobKind, JobStatus
from velocitas.research.sweeps import SweepSpec, expand
from worker.settling import settle

BASE = {"legs": [{"symbol": "TEST", "strategy": {"name": "sleepy", "params": {}}}]}


def _sweep(owner: uuid.UUID, spec: dict[str, Any]) -> tuple[uuid.UUID, list[uuid.UUID]]:
    with session_scope() as session:
        parent, _ = job_store.create_job(session, owner_id=owner, kind=JobKind.SWEEP, spec=spec)
        job_store.mark_running(session, parent.id)
        specs = [child for _, child in expand(SweepSpec.model_validate(spec))]
        children = create_children(session, parent, JobKind.BACKTEST, enumerate(specs))
        return parent.id, [child.id for child in children]


def _finish(child_id: uuid.UUID, score: float) -> None:
    with session_scope() as session:
        job_store.mark_running(session, child_id)
        summary = {"metrics": {"score": score}, "final_equity": str(score)}
        assert job_store.record_result(session, child_id, summary=summary)


def test_settle_ranks_once_when_the_last_child_has_finished(owner: uuid.UUID) -> None:
    spec = {"base": BASE, "grid": {"steps": [1, 2, 3]}, "objective": "score"}
    parent_id, children = _sweep(owner, spec)
    _finish(children[0], 1.0)
    waiting = settle(parent_id)
    assert waiting is not None
    assert (waiting.status, waiting.progress) == (JobStatus.RUNNING, 1 / 3)
    _finish(children[1], 3.0)
    _finish(children[2], 2.0)
    settled = settle(parent_id)
    assert settled is not None
    assert settled.status == JobStatus.SUCCEEDED
    ranking = settled.result_summary["ranking"]
    assert [r["params"] for r in ranking] == [{"steps": 2}, {"steps": 3}, {"steps": 1}]
    assert settle(parent_id) is None  # a second finishing child: nothing left to do
    assert settle(parent_id, take_over=True) is None  # a redelivery: finished, left alone


def test_settle_claimed_by_another_call_is_left_to_it_unless_redelivered(
    owner: uuid.UUID,
) -> None:
    parent_id, children = _sweep(owner, {"base": BASE, "grid": {"steps": [1, 2]}})
    for child, score in zip(children, (1.0, 2.0), strict=True):
        _finish(child, score)
    with session_scope() as session:  # as if another child's settle claimed it, then died
        assert job_store.claim_settling(session, parent_id) is not None
    assert settle(parent_id) is None
    with session_scope() as session:
        waiting = job_store.get_job(session, parent_id)
        assert waiting is not None
        assert waiting.status == JobStatus.RUNNING
    settled = settle(parent_id, take_over=True)
    assert settled is not None
    assert settled.status == JobStatus.SUCCEEDED


def test_settle_of_a_sweep_stored_with_the_deprecated_fields_ranks_as_before(
    owner: uuid.UUID,
) -> None:
    spec = {"base": BASE, "grid": {"steps": [1, 2, 3]}, "rank_by": "score", "descending": False}
    parent_id, children = _sweep(owner, spec)
    for child, score in zip(children, (2.0, 1.0, 3.0), strict=True):
        _finish(child, score)
    settled = settle(parent_id)
    assert settled is not None
    summary = settled.result_summary
    assert summary["rank_by"] == "score"
    assert [r["score"] for r in summary["ranking"]] == [1.0, 2.0, 3.0]


def test_settles_racing_on_the_last_children_record_one_result(owner: uuid.UUID) -> None:
    parent_id, children = _sweep(owner, {"base": BASE, "grid": {"steps": [1, 2, 3, 4]}})
    for child, score in zip(children, (1.0, 2.0, 3.0, 4.0), strict=True):
        _finish(child, score)
    with ThreadPoolExecutor(4) as pool:  # four children finishing at once all settle
        settled = list(pool.map(lambda _: settle(parent_id), range(4)))
    finished = [parent for parent in settled if parent is not None]
    assert len(finished) == 1
    assert finished[0].status == JobStatus.SUCCEEDED
