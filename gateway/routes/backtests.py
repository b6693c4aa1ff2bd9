"""`/backtests`: submit (202), read, list, page through trades and equity, cancel."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from gateway.deps import CurrentUser, SessionDep
from gateway.job_routes import JobDocs, add_equity_route, job_router
from gateway.jobs import NOT_YOURS, UNAUTHENTICATED, owned_job
from gateway.policies import require_registered_models
from gateway.schemas import TradePage, TradePublic
from velocitas.db import jobs as job_store
from velocitas.db.coverage import require_stored_bars
from velocitas.domain.events import JobKind
from velocitas.engine.spec import BacktestSpec
from velocitas.strategies import registry

MAX_BARS_PER_LEG = 20_000_000
"""A larger run would not finish within the worker's time limit; split it instead."""


def validate_backtest(session: SessionDep, spec: BacktestSpec) -> BacktestSpec:
    """Refuse here, before queueing, everything that would make the job fail at once: an
    unknown strategy, parameters outside their bounds, an unknown model, a range with no
    stored bars."""
    for index, leg in enumerate(spec.legs):
        registry.build(leg.strategy.name, leg.strategy.params, field=f"legs[{index}].strategy")
        require_stored_bars(
            session, leg.symbol, spec.timeframe, spec.start, spec.end,
            field=f"legs[{index}].symbol", limit=MAX_BARS_PER_LEG,
        )  # fmt: skip
    require_registered_models(session, spec)
    return spec


router = job_router(
    JobKind.BACKTEST,
    "/backtests",
    noun="backtest",
    request_model=BacktestSpec,
    prepare=validate_backtest,
    docs=JobDocs(
        create="Validate the spec against the strategy's bounds and the stored data, queue the "
        "job.",
        list="The caller's backtests, newest first (a sweep's runs are listed under the sweep).",
        read="Status, progress and timings; once succeeded, the report (metrics, per-leg results).",
        delete="Cancel a queued or running job; a running one stops at its next progress point.",
    ),
)


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


add_equity_route(
    router,
    JobKind.BACKTEST,
    name="list_backtest_equity",
    doc="The job's equity curve, one point per bar, as decimal strings; page with `after`.",
)
