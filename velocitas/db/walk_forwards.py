"""Persistence of walk-forwards: one child job per fold, created once, keyed by its fold index
(a redelivered parent task finds them again).

Storage only: which folds there are and how they are stitched are the worker's to decide
(`worker.walk_forwards`, `worker.settling`, with `velocitas.research.walk_forward_spec`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from velocitas.db import jobs as job_store
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobKind

__all__ = ["create_fold_jobs"]


def create_fold_jobs(
    session: Session, parent: BacktestJob, fold_specs: Sequence[tuple[int, dict[str, Any]]]
) -> list[BacktestJob]:
    """The walk-forward's fold jobs, one per (fold index, stored spec), created on first call
    only."""
    children = []
    for index, spec in fold_specs:
        child, _ = job_store.create_job(
            session,
            owner_id=parent.owner_id,
            kind=JobKind.FOLD,
            spec=spec,
            idempotency_key=f"walk_forward:{parent.id}:{index}",
            parent_id=parent.id,
        )
        children.append(child)
    return children
