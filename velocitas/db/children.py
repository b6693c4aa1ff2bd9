"""Persistence of jobs made of jobs (a sweep's runs, a walk-forward's folds): the child job
rows, created once, each keyed by its place in the parent.

Storage only: which children a parent has (`velocitas.research`) and how they settle it are the
worker's to decide (`worker.sweeps`, `worker.walk_forwards`, `worker.settling`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from velocitas.db import jobs as job_store
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobKind

__all__ = ["child_index", "create_children"]


def create_children(
    session: Session,
    parent: BacktestJob,
    kind: JobKind,
    specs: Iterable[tuple[int, dict[str, Any]]],
) -> list[BacktestJob]:
    """The parent's child jobs of `kind`, one per (index, spec), created on the first call only:
    each child's idempotency key is `<parent kind>:<parent id>:<index>`, so a redelivered parent
    task finds the same children again."""
    children = []
    for index, spec in specs:
        child, _ = job_store.create_job(
            session,
            owner_id=parent.owner_id,
            kind=kind,
            spec=spec,
            idempotency_key=f"{parent.kind}:{parent.id}:{index}",
            parent_id=parent.id,
        )
        children.append(child)
    return children


def child_index(child: BacktestJob) -> int:
    """A child job's place in its parent (a sweep run's point of the grid, a fold's index)."""
    return int((child.idempotency_key or "").rsplit(":", 1)[-1])
