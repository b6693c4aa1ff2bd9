"""`/backtests`: submit (202), read, list, page through trades and equity, download the HTML
report, cancel."""

from __future__ import annotations

import gzip
import uuid
from typing import Annotated

from fastapi import Header, Query, Response

from gateway.deps import CurrentUser, SessionDep
from gateway.job_routes import JobDocs, add_equity_route, job_router
from gateway.jobs import NOT_YOURS, UNAUTHENTICATED, owned_job
from gateway.policies import require_registered_models
from gateway.schemas import ErrorBody, TradePage, TradePublic
from velocitas.db import jobs as job_store
from velocitas.db.coverage import require_stored_bars
from velocitas.db.reports import read_report_for_owner
from velocitas.domain.events import JobKind, JobStatus
from velocitas.engine.spec import BacktestSpec
from velocitas.errors import NotFound
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


_HTML_REPORT = {
    200: {
        "content": {"text/html": {}},
        "description": "The self-contained HTML report as an attachment; gzip-encoded when the "
        "request's `Accept-Encoding` allows it.",
    },
    **UNAUTHENTICATED,
    404: {
        "model": ErrorBody,
        "description": "No such job (or not yours), or it has no report: not succeeded (yet), "
        "or a sweep's run.",
    },
}


@router.get("/{job_id}/report.html", response_class=Response, responses=_HTML_REPORT)
def read_backtest_report(
    job_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    accept_encoding: Annotated[str, Header()] = "",
) -> Response:
    """The page `velocitas backtest run --html` writes (charts, metrics, P&L, trades), drawn
    by the worker when the job succeeded; works offline."""
    job = owned_job(session, job_id, user.id, JobKind.BACKTEST)
    if job.status != JobStatus.SUCCEEDED.value:
        raise NotFound(f"backtest {job_id} has no HTML report: it is {job.status}, not succeeded")
    report = read_report_for_owner(session, job_id, user.id)
    if report is None:
        raise NotFound(
            f"backtest {job_id} has no HTML report: it is a sweep's run, or its worker could "
            "not draw the page (its log says why)"
        )
    headers = {
        "Content-Disposition": f'attachment; filename="backtest-{job_id}.html"',
        "Vary": "Accept-Encoding",
    }
    if accepts_gzip(accept_encoding):
        headers["Content-Encoding"] = "gzip"
        return Response(report.html_gzip, media_type="text/html", headers=headers)
    return Response(gzip.decompress(report.html_gzip), media_type="text/html", headers=headers)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an `Accept-Encoding` header allows gzip (named or `*`, and not with q=0)."""
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            quality = params.strip().lower().removeprefix("q=")
            try:
                return not params.strip() or float(quality) > 0
            except ValueError:
                return False
    return False
