"""Persistence of walk-forwards: one child job per fold, created once; the last fold to finish
stitches the out-of-sample segments and records the parent's result.

Mirrors `velocitas.db.sweeps`: children are keyed by their fold index (a redelivered parent task
finds them again), and the parent row is locked while settling, so two folds finishing at once
cannot both stitch (nor neither).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from velocitas import walk_forwards
from velocitas.db import jobs as job_store
from velocitas.db.bar_cache import load_bars_cached
from velocitas.db.coverage import require_stored_bars
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobKind, JobStatus
from velocitas.engine.version import ENGINE_VERSION
from velocitas.engine.walk_forward import FoldChoice
from velocitas.errors import InvalidRequest
from velocitas.walk_forwards import WalkForwardSpec

__all__ = ["create_fold_jobs", "fold_of", "settle_parent"]

_STITCHING = 0.99  # the parent's progress once every fold is optimised, before stitching


def create_fold_jobs(session: Session, parent: BacktestJob) -> list[BacktestJob]:
    """The walk-forward's fold jobs, created on first call only. Raises `InvalidRequest` when
    the spec cannot run at all (no fold fits, no bars stored in its range)."""
    spec = WalkForwardSpec.model_validate(parent.spec)
    walk_forwards.validate(spec)
    base, leg = spec.base, spec.base.legs[0]
    require_stored_bars(
        session, leg.symbol, base.timeframe, base.start, base.end, field="base.symbol"
    )
    folds = walk_forwards.plan(spec).folds
    children = []
    for fold in folds:
        child, _ = job_store.create_job(
            session,
            owner_id=parent.owner_id,
            kind=JobKind.FOLD,
            spec={"walk_forward": parent.spec, "fold": fold.index},
            idempotency_key=f"walk_forward:{parent.id}:{fold.index}",
            parent_id=parent.id,
        )
        children.append(child)
    return children


def fold_of(spec: dict[str, Any]) -> tuple[WalkForwardSpec, int]:
    """A fold job's stored spec: its walk-forward's spec and the fold's index."""
    return WalkForwardSpec.model_validate(spec["walk_forward"]), int(spec["fold"])


def settle_parent(session: Session, parent_id: uuid.UUID) -> BacktestJob | None:
    """Called when a fold finishes: update the parent's progress, and when every fold has
    finished, stitch and record the result (or fail the parent if a fold failed). Returns the
    updated parent, or None if it had already finished."""
    settling = job_store.lock_for_settling(session, parent_id)
    if settling is None:
        return None
    if not settling.complete:
        job_store.advance_parent_progress(session, settling, share=_STITCHING)
        return settling.parent
    parent = settling.parent
    children = sorted(settling.children, key=lambda child: int(child.spec["fold"]))
    broken = [c for c in children if c.status != JobStatus.SUCCEEDED]
    if broken:
        child = broken[0]
        reason = f": {child.error}" if child.error else ""
        job_store.mark_failed(
            session, parent_id, f"fold {child.spec['fold']} {child.status}{reason}"
        )
    else:
        _stitch(session, parent, [FoldChoice.from_dict(c.result_summary or {}) for c in children])
    session.refresh(parent)
    return parent


def _stitch(session: Session, parent: BacktestJob, choices: list[FoldChoice]) -> None:
    spec = WalkForwardSpec.model_validate(parent.spec)
    base = spec.base
    series, digest = load_bars_cached(base.legs[0].symbol, base.timeframe, base.start, base.end)
    try:
        result = walk_forwards.stitch(spec, walk_forwards.plan(spec), choices, series)
    except InvalidRequest as exc:
        where = f"{exc.field}: " if exc.field else ""
        job_store.mark_failed(session, parent.id, f"{where}{exc}")
        return
    job_store.record_result(
        session,
        parent.id,
        summary=walk_forwards.summary(result),
        equity_opened_at_ns=result.opened_at,
        equity=result.equity,
        data_snapshot_hash=digest,
        engine_version=ENGINE_VERSION,
    )
