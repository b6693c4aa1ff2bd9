"""Persistence of sweeps: the child backtest jobs, created once, and their place in the grid.

Storage only: what the children run (`velocitas.research.sweeps.expand`) and how they rank are
the worker's to decide (`worker.settling`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from velocitas.db import jobs as job_store
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobKind

__all__ = ["create_children", "grid_index"]


def create_children(
    session: Session, parent: BacktestJob, child_specs: Sequence[dict[str, Any]]
) -> list[BacktestJob]:
    """The parent sweep's child backtest jobs, one per spec in grid order, created on first call
    only: each child's idempotency key is its place in the grid, so a redelivered sweep task
    finds them again."""
    children = []
    for index, child_spec in enumerate(child_specs):
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


def grid_index(child: BacktestJob) -> int:
    """A child backtest's place in its sweep's grid."""
    return int((child.idempotency_key or "").rsplit(":", 1)[-1])
