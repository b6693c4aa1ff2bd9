"""`/tournaments`: strategies x symbols walked forward as child jobs, ranked out of sample, with
the deflated Sharpe ratio, the probability of backtest overfitting and recommendations."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query

from gateway.deps import CurrentUser, SessionDep
from gateway.job_routes import JobDocs, add_children_route, job_router
from gateway.jobs import NOT_YOURS, UNAUTHENTICATED, Responses, owned_job
from gateway.policies import require_registered_models
from gateway.routes.backtests import MAX_BARS_PER_LEG
from gateway.schemas import (
    ErrorBody,
    RecommendationsPublic,
    RegimeEvidencePublic,
    TournamentCreate,
    TournamentRankingPublic,
)
from velocitas.db.coverage import require_stored_bars
from velocitas.domain.events import JobKind, JobStatus
from velocitas.errors import Conflict, NotFound
from velocitas.research import tournament_spec
from velocitas.research.tournament_spec import TournamentSpec

_NOT_READY: Responses = {
    409: {"model": ErrorBody, "description": "The tournament has not succeeded (yet)."}
}
_READ: Responses = {**UNAUTHENTICATED, **NOT_YOURS, **_NOT_READY}


def validate_tournament(session: SessionDep, request: TournamentCreate) -> TournamentSpec:
    """The tournament as stored, after checking its strategies, range, folds and size, and
    that every symbol has bars of every timeframe in the range."""
    spec = TournamentSpec.model_validate(request.model_dump())
    the_plan = tournament_spec.validate(spec)
    for index, symbol in enumerate(spec.symbols):
        for timeframe in spec.timeframes:
            require_stored_bars(
                session, symbol, timeframe, spec.start, spec.end,
                field=f"symbols[{index}]", limit=MAX_BARS_PER_LEG,
            )  # fmt: skip
    for entry in the_plan.entries[: len(spec.strategies)]:
        require_registered_models(
            session,
            tournament_spec.entry_spec(spec, entry),
            prefix=f"strategies[{entry.strategy}].",
        )
    return spec


router = job_router(
    JobKind.TOURNAMENT,
    "/tournaments",
    noun="tournament",
    request_model=TournamentCreate,
    prepare=validate_tournament,
    docs=JobDocs(
        create="Validate the strategies, symbols, range, folds and size (runs = parameter sets "
        "x symbols x timeframes x folds, at most MAX_TOURNAMENT_SIZE), queue the tournament; "
        "its entries fan out over the workers.",
        list="The caller's tournaments, newest first.",
        read="Status and progress (entries done); once succeeded, the whole report: ranked "
        "entries, deflated Sharpe ratios, PBO, recommendations.",
        delete="Cancel the tournament and every entry not finished yet.",
    ),
)
add_children_route(
    router,
    JobKind.TOURNAMENT,
    JobKind.TOURNAMENT_ENTRY,
    suffix="entries",
    name="list_tournament_entries",
    doc="The tournament's entries, one job per (strategy, symbol, timeframe): their status while "
    "it runs, and each one's walk-forward and trials once done.",
)


def _report(session: SessionDep, job_id: uuid.UUID, user: CurrentUser) -> dict[str, Any]:
    job = owned_job(session, job_id, user.id, JobKind.TOURNAMENT)
    if job.status != JobStatus.SUCCEEDED or not job.result_summary:
        raise Conflict(f"tournament {job_id} is {job.status}; its report comes once it succeeds")
    return job.result_summary


@router.get("/{job_id}/best", response_model=TournamentRankingPublic, responses=_READ)
def list_tournament_best(
    job_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    passing: Annotated[bool, Query()] = False,
) -> TournamentRankingPublic:
    """The best (strategy, symbol, timeframe) combinations by the out-of-sample objective;
    `passing` keeps only those whose deflated Sharpe ratio clears the threshold."""
    report = _report(session, job_id, user)
    entries = [e for e in report["entries"] if not passing or e["deflated_sharpe"]["passes"]]
    return _ranking(job_id, report, entries[:limit])


@router.get("/{job_id}/symbols/{symbol}", response_model=TournamentRankingPublic, responses=_READ)
def list_tournament_symbol(
    job_id: uuid.UUID,
    symbol: str,
    user: CurrentUser,
    session: SessionDep,
    timeframe: Annotated[str | None, Query(max_length=8)] = None,
) -> TournamentRankingPublic:
    """The strategies ranked for one symbol (and `timeframe`, when given) out of sample."""
    report = _report(session, job_id, user)
    symbols = sorted({e["symbol"] for e in report["entries"]})
    if symbol not in symbols:
        raise NotFound(f"{symbol!r} has no ranked entry in this tournament", available=symbols)
    entries = [
        e
        for e in report["entries"]
        if e["symbol"] == symbol and (timeframe is None or e["timeframe"] == timeframe)
    ]
    return _ranking(job_id, report, entries)


@router.get("/{job_id}/recommendations", response_model=RecommendationsPublic, responses=_READ)
def list_tournament_recommendations(
    job_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> RecommendationsPublic:
    """What to trade and what to avoid, in plain language, each naming its evidence: the
    out-of-sample figures, the deflated Sharpe ratio and the tournament's PBO."""
    report = _report(session, job_id, user)
    return RecommendationsPublic(
        tournament_id=job_id,
        items=report["recommendations"],
        deflation=report["deflation"],
        overfitting=report["overfitting"],
    )


@router.get("/{job_id}/regimes", response_model=RegimeEvidencePublic, responses=_READ)
def list_tournament_regimes(
    job_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> RegimeEvidencePublic:
    """Which strategies won out of sample in which market regime: per regime (trending up,
    trending down, ranging, volatile; each bar filed under the regime known at the close
    before it), the strategies ranked by pooled out-of-sample Sharpe ratio per bar, with
    their bars, mean return and deflated Sharpe ratio."""
    report = _report(session, job_id, user)
    return RegimeEvidencePublic(
        tournament_id=job_id,
        regimes=report.get("regimes") or {},
        overfitting=report["overfitting"],
    )


def _ranking(
    job_id: uuid.UUID, report: dict[str, Any], entries: list[dict[str, Any]]
) -> TournamentRankingPublic:
    return TournamentRankingPublic(
        tournament_id=job_id,
        objective=report["objective"],
        items=entries,
        deflation=report["deflation"],
        overfitting=report["overfitting"],
    )
