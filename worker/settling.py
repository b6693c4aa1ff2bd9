"""Settling a parent job (a sweep, a walk-forward, a tournament) when one of its children
finishes.

Under the parent's row lock a settle only advances the parent's progress and decides whether
every child has finished, claiming the settling if so (`velocitas.db.jobs.claim_settling`), so
one of several children finishing at once settles it. The work (ranking a sweep's runs,
stitching a walk-forward's folds, which loads bars and runs the engine) happens after that
commit, outside any lock, with `velocitas.research`; its result is recorded through the
conditional write (`record_result`, `mark_failed`), which refuses a parent that finished
meanwhile (cancelled, or settled by a redelivery), so the result is recorded once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from velocitas.db import jobs as job_store
from velocitas.db.bar_cache import load_bars_cached
from velocitas.db.children import child_index
from velocitas.db.engine import session_scope
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobKind, JobStatus
from velocitas.engine.version import ENGINE_VERSION
from velocitas.errors import InvalidRequest
from velocitas.research import tournament, tournament_spec, walk_forward_spec
from velocitas.research.sweeps import SweepSpec, expand, rank
from velocitas.research.tournament_spec import TournamentSpec
from velocitas.research.walk_forward import FoldChoice
from velocitas.research.walk_forward_spec import WalkForwardSpec

__all__ = ["ParentResult", "settle"]


@dataclass(frozen=True, slots=True)
class ParentResult:
    """What settling a parent records: its summary (and a walk-forward's stitched equity), or
    the `error` that fails it."""

    summary: dict[str, Any] | None = None
    error: str | None = None
    equity_opened_at_ns: npt.NDArray[np.int64] | None = None
    equity: npt.NDArray[np.float64] | None = None
    data_snapshot_hash: str | None = None
    engine_version: str | None = None


Finish = Callable[[BacktestJob, Sequence[BacktestJob]], ParentResult]


@dataclass(frozen=True, slots=True)
class _Rules:
    share: float  # the parent's progress once every child has finished, before it settles
    finish: Finish


def settle(parent_id: uuid.UUID, *, take_over: bool = False) -> BacktestJob | None:
    """Advance the parent `parent_id` after one of its children finished, and settle it if that
    was the last one. Returns the parent to announce (still running with its new progress, or
    finished by this call), or None when there is nothing to announce. `take_over` settles a
    parent another call claimed (a redelivery: that call's worker may have died)."""
    with session_scope() as session:
        kind = session.execute(
            select(BacktestJob.kind).where(BacktestJob.id == parent_id)
        ).scalar_one_or_none()
        rules = _RULES_BY_KIND.get(kind or "")
        if rules is None:
            return None
        settling = job_store.claim_settling(
            session, parent_id, share=rules.share, take_over=take_over
        )
    if settling is None or not settling.complete:
        return settling.parent if settling is not None else None
    result = rules.finish(settling.parent, settling.children)
    with session_scope() as session:
        if result.error is not None:
            recorded = job_store.mark_failed(session, parent_id, result.error)
        else:
            recorded = job_store.record_result(
                session,
                parent_id,
                summary=result.summary or {},
                equity_opened_at_ns=result.equity_opened_at_ns,
                equity=result.equity,
                data_snapshot_hash=result.data_snapshot_hash,
                engine_version=result.engine_version,
            )
        return job_store.get_job(session, parent_id) if recorded else None


def _rank_sweep(parent: BacktestJob, children: Sequence[BacktestJob]) -> ParentResult:
    """A sweep's report: its runs, in grid order, ranked by its objective."""
    spec = SweepSpec.model_validate(parent.spec)
    grid = [params for params, _ in expand(spec)]
    runs: list[dict[str, Any]] = [
        {
            "job_id": str(child.id),
            "params": grid[child_index(child)],
            "status": child.status,
            "summary": child.result_summary,
            "error": child.error,
        }
        for child in sorted(children, key=child_index)
    ]
    return ParentResult(summary=rank(spec, runs))


def _stitch_walk_forward(parent: BacktestJob, children: Sequence[BacktestJob]) -> ParentResult:
    """A walk-forward's report: every fold's choice traded out of sample, in order, as one
    account; or the first fold that did not succeed, as the parent's error."""
    folds = sorted(children, key=lambda child: int(child.spec["fold"]))
    broken = [fold for fold in folds if fold.status != JobStatus.SUCCEEDED]
    if broken:
        fold = broken[0]
        reason = f": {fold.error}" if fold.error else ""
        return ParentResult(error=f"fold {fold.spec['fold']} {fold.status}{reason}")
    choices = [FoldChoice.from_dict(fold.result_summary or {}) for fold in folds]
    spec = WalkForwardSpec.model_validate(parent.spec)
    base = spec.base
    series, digest = load_bars_cached(base.legs[0].symbol, base.timeframe, base.start, base.end)
    try:
        result = walk_forward_spec.stitch(spec, walk_forward_spec.plan(spec), choices, series)
    except InvalidRequest as exc:
        where = f"{exc.field}: " if exc.field else ""
        return ParentResult(error=f"{where}{exc}")
    return ParentResult(
        summary=walk_forward_spec.summary(result),
        equity_opened_at_ns=result.opened_at,
        equity=result.equity,
        data_snapshot_hash=digest,
        engine_version=ENGINE_VERSION,
    )


def _rank_tournament(parent: BacktestJob, children: Sequence[BacktestJob]) -> ParentResult:
    """A tournament's report from its entries' stored results; an entry that did not succeed
    is listed as failed with its reason. Fails only when no entry succeeded."""
    spec = TournamentSpec.model_validate(parent.spec)
    the_plan = tournament_spec.plan(spec)
    by_entry = {int(child.spec["entry"]): child for child in children}
    results: list[dict[str, Any] | str] = []
    for entry in the_plan.entries:
        child = by_entry.get(entry.index)
        if child is None:
            results.append("the entry was never created")
        elif child.status == JobStatus.SUCCEEDED and child.result_summary:
            results.append(child.result_summary)
        else:
            results.append(f"{child.status}: {child.error}" if child.error else child.status)
    if not any(isinstance(result, dict) for result in results):
        first = next(r for r in results if isinstance(r, str))
        return ParentResult(error=f"no entry succeeded; entry 0 {first}")
    return ParentResult(
        summary=tournament.rank(spec, the_plan, results), engine_version=ENGINE_VERSION
    )


_RULES_BY_KIND: dict[str, _Rules] = {
    JobKind.SWEEP: _Rules(share=1.0, finish=_rank_sweep),
    # A walk-forward's folds take it to 99%; stitching them is the last 1%.
    JobKind.WALK_FORWARD: _Rules(share=0.99, finish=_stitch_walk_forward),
    JobKind.TOURNAMENT: _Rules(share=0.99, finish=_rank_tournament),
}
