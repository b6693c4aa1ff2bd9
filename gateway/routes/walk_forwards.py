"""`/walk-forwards`: in-sample optimisation, out-of-sample evaluation, stitched equity."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import ConfigDict, Field

from gateway.deps import CurrentUser, SessionDep
from gateway.jobs import (
    CANCELLED,
    NOT_YOURS,
    SUBMITTED,
    UNAUTHENTICATED,
    IdempotencyKey,
    cancel,
    job_public,
    list_page,
    owned_job,
    submit,
)
from gateway.routes.backtests import BacktestSpec, validate_backtest
from gateway.schemas import BacktestAccepted, EquityPage, EquityPointPublic, JobPage, JobPublic
from velocitas.db import jobs as job_store
from velocitas.domain.events import JobKind, JobStatus
from velocitas.research.objectives import ObjectiveFields, ObjectiveName
from velocitas.research.walk_forward_spec import WalkForwardSpec, validate

router = APIRouter(prefix="/walk-forwards", tags=["walk-forwards"])


class WalkForwardCreate(ObjectiveFields):
    """A walk-forward of `base` (one leg, the whole range): each fold sweeps `grid` on its
    in-sample window (`in_sample`, e.g. "30d"), ranks by `objective` in `direction` under
    `min_trades` and `max_drawdown` (a fraction), and trades the best out of sample
    (`out_of_sample`, e.g. "7d"); `anchored` grows the in-sample window from the start instead
    of rolling it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: BacktestSpec
    grid: dict[str, list[Any]] = Field(min_length=1, max_length=8)
    in_sample: str = Field(min_length=2, max_length=16, examples=["30d"])
    out_of_sample: str = Field(min_length=2, max_length=16, examples=["7d"])
    anchored: bool = False
    objective: ObjectiveName = "sharpe"
    random: int | None = Field(default=None, ge=1, le=1000)
    seed: int = 0


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, response_model=BacktestAccepted, responses=SUBMITTED
)
def create_walk_forward(
    request: WalkForwardCreate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> BacktestAccepted:
    """Validate the base, the grid and the windows, queue the walk-forward."""
    spec = WalkForwardSpec.model_validate(request.model_dump())
    validate_backtest(session, request.base)
    validate(spec)
    job = submit(
        session, user.id, JobKind.WALK_FORWARD, spec.model_dump(mode="json"), idempotency_key
    )
    response.headers["Location"] = f"/walk-forwards/{job.id}"
    return BacktestAccepted(id=job.id, status=JobStatus(job.status))


@router.get("", response_model=JobPage, responses=UNAUTHENTICATED)
def list_walk_forwards(
    user: CurrentUser,
    session: SessionDep,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobPage:
    """The caller's walk-forwards, newest first."""
    return list_page(session, user.id, JobKind.WALK_FORWARD, status_, limit, cursor)


@router.get("/{job_id}", response_model=JobPublic, responses={**UNAUTHENTICATED, **NOT_YOURS})
def read_walk_forward(job_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> JobPublic:
    """Status and progress (folds done); once succeeded, folds, parameters and metrics."""
    return job_public(owned_job(session, job_id, user.id, JobKind.WALK_FORWARD))


@router.get(
    "/{job_id}/equity", response_model=EquityPage, responses={**UNAUTHENTICATED, **NOT_YOURS}
)
def list_walk_forward_equity(
    job_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    after: Annotated[int, Query(ge=-1)] = -1,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> EquityPage:
    """The stitched out-of-sample equity curve, one point per bar; page with `after`."""
    owned_job(session, job_id, user.id, JobKind.WALK_FORWARD)
    rows = job_store.list_equity(session, job_id, user.id, after=after, limit=limit + 1)
    return EquityPage(
        items=[EquityPointPublic.model_validate(r) for r in rows[:limit]],
        next_after=rows[limit - 1].seq if len(rows) > limit else None,
    )


@router.get("/{job_id}/folds", response_model=JobPage, responses={**UNAUTHENTICATED, **NOT_YOURS})
def list_walk_forward_folds(
    job_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobPage:
    """The walk-forward's folds, one job each (its in-sample sweep, run on any worker): their
    status while it runs, and each one's chosen parameters once done."""
    owned_job(session, job_id, user.id, JobKind.WALK_FORWARD)
    return list_page(session, user.id, JobKind.FOLD, None, limit, cursor, parent_id=job_id)


@router.delete("/{job_id}", response_model=JobPublic, responses=CANCELLED)
def delete_walk_forward(job_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> JobPublic:
    """Cancel a queued or running walk-forward (a running one stops at its next fold)."""
    return job_public(cancel(session, job_id, user.id, JobKind.WALK_FORWARD))
