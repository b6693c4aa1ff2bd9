"""`/backtests`: submit (202), read, list, page through trades and equity, cancel."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

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
from gateway.schemas import (
    BacktestAccepted,
    EquityPage,
    EquityPointPublic,
    JobPage,
    JobPublic,
    TradePage,
    TradePublic,
)
from velocitas.db import jobs as job_store
from velocitas.db.coverage import require_stored_bars
from velocitas.domain.events import JobKind, JobStatus
from velocitas.engine.spec import BacktestSpec
from velocitas.strategies import registry

router = APIRouter(prefix="/backtests", tags=["backtests"])


MAX_BARS_PER_LEG = 20_000_000
"""A larger run would not finish within the worker's time limit; split it instead."""


def validate_backtest(session: SessionDep, spec: BacktestSpec) -> None:
    """Refuse here, before queueing, everything that would make the job fail at once: an
    unknown strategy, parameters outside their bounds, a range with no stored bars."""
    for index, leg in enumerate(spec.legs):
        registry.build(leg.strategy.name, leg.strategy.params, field=f"legs[{index}].strategy")
        require_stored_bars(
            session, leg.symbol, spec.timeframe, spec.start, spec.end,
            field=f"legs[{index}].symbol", limit=MAX_BARS_PER_LEG,
        )  # fmt: skip


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, response_model=BacktestAccepted, responses=SUBMITTED
)
def create_backtest(
    spec: BacktestSpec,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> BacktestAccepted:
    """Validate the spec against the strategy's bounds and the stored data, queue the job."""
    validate_backtest(session, spec)
    job = submit(session, user.id, JobKind.BACKTEST, spec.model_dump(mode="json"), idempotency_key)
    response.headers["Location"] = f"/backtests/{job.id}"
    return BacktestAccepted(id=job.id, status=JobStatus(job.status))


@router.get("", response_model=JobPage, responses=UNAUTHENTICATED)
def list_backtests(
    user: CurrentUser,
    session: SessionDep,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobPage:
    """The caller's backtests, newest first (a sweep's runs are listed under the sweep)."""
    return list_page(session, user.id, JobKind.BACKTEST, status_, limit, cursor)


@router.get("/{job_id}", response_model=JobPublic, responses={**UNAUTHENTICATED, **NOT_YOURS})
def read_backtest(job_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> JobPublic:
    """Status, progress and timings; once succeeded, the report (metrics, per-leg results)."""
    return job_public(owned_job(session, job_id, user.id, JobKind.BACKTEST))


@router.get(
    "/{job_id}/trades", response_model=TradePage, responses={**UNAUTHENTICATED, **NOT_YOURS}
)
def list_backtest_trades(
    job_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    after: Annotated[int, Query(ge=-1)] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TradePage:
    """The job's trades in order, money as decimal strings; page with `after`."""
    owned_job(session, job_id, user.id, JobKind.BACKTEST)
    rows = job_store.list_trades(session, job_id, user.id, after=after, limit=limit + 1)
    return TradePage(
        items=[TradePublic.model_validate(r) for r in rows[:limit]],
        next_after=rows[limit - 1].seq if len(rows) > limit else None,
    )


@router.get(
    "/{job_id}/equity", response_model=EquityPage, responses={**UNAUTHENTICATED, **NOT_YOURS}
)
def list_backtest_equity(
    job_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    after: Annotated[int, Query(ge=-1)] = -1,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> EquityPage:
    """The job's equity curve, one point per bar, as decimal strings; page with `after`."""
    owned_job(session, job_id, user.id, JobKind.BACKTEST)
    rows = job_store.list_equity(session, job_id, user.id, after=after, limit=limit + 1)
    return EquityPage(
        items=[EquityPointPublic.model_validate(r) for r in rows[:limit]],
        next_after=rows[limit - 1].seq if len(rows) > limit else None,
    )


@router.delete("/{job_id}", response_model=JobPublic, responses=CANCELLED)
def delete_backtest(job_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> JobPublic:
    """Cancel a queued or running job; a running one stops at its next progress point."""
    return job_public(cancel(session, job_id, user.id, JobKind.BACKTEST))
