"""Persistence of sweeps: children created once, the parent settled by its last child."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from velocitas.db import jobs as job_store
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobKind
from velocitas.sweeps import SweepSpec, expand, rank

__all__ = ["create_children", "settle_parent"]


def create_children(session: Session, parent: BacktestJob) -> list[BacktestJob]:
    """The parent sweep's child backtest jobs, created on first call only: each child's
    idempotency key is its place in the grid, so a redelivered sweep task finds them again."""
    spec = SweepSpec.model_validate(parent.spec)
    children = []
    for index, (_, child_spec) in enumerate(expand(spec)):
        child, _ = job_store.create_job(
            session,
            owner_id=parent.owner_id,
            kind=JobKind.BACKTEST,
            spec=child_spec,
            idempotency_key=f"sweep:{parent.id}:{index}",
            parent_id=parent.id,
        )
        children.append(child)
    return children


def settle_parent(session: Session, parent_id: uuid.UUID) -> BacktestJob | None:
    """Called when a child finishes: update the parent's progress, and when no child is left
    running, rank the children and mark the parent succeeded. Returns the updated parent
    (status `succeeded` if this call finished it), or None if it had already finished. The
    parent row is locked, so two children finishing at once cannot both rank (nor neither)."""
    settling = job_store.lock_for_settling(session, parent_id)
    if settling is None:
        return None
    if not settling.complete:
        job_store.advance_parent_progress(session, settling)
        return settling.parent
    parent, children = settling.parent, sorted(settling.children, key=_grid_index)
    spec = SweepSpec.model_validate(parent.spec)
    grid = [params for params, _ in expand(spec)]
    runs: list[dict[str, Any]] = [
        {
            "job_id": str(c.id),
            "params": grid[_grid_index(c)],
            "status": c.status,
            "summary": c.result_summary,
            "error": c.error,
        }
        for c in children
    ]
    job_store.record_result(session, parent_id, summary=rank(spec, runs))
    session.refresh(parent)
    return parent


def _grid_index(child: BacktestJob) -> int:
    return int((child.idempotency_key or "").rsplit(":", 1)[-1])
