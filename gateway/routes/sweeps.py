"""`/sweeps`: a parameter grid run as child backtests over the workers, ranked at the end."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import ConfigDict, Field, ValidationError

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
from gateway.schemas import BacktestAccepted, JobPage, JobPublic
from velocitas.domain.events import JobKind, JobStatus
from velocitas.errors import InvalidRequest
from velocitas.research.objectives import ObjectiveFields
from velocitas.research.sweeps import SweepSpec, expand
from velocitas.strategies import registry

router = APIRouter(prefix="/sweeps", tags=["sweeps"])


_DEPRECATED = "Deprecated: accepted for one release"


class SweepCreate(ObjectiveFields):
    """A sweep: `base` backtest, `grid` of values for `legs[leg]`'s strategy parameters,
    ranked by the report metric `objective` (highest first unless `direction` is `minimize`)
    over the runs with at least `min_trades` trades and a maximum drawdown of at most
    `max_drawdown` (a fraction).

    Deprecated, accepted for one release: `rank_by` (use `objective`) and `descending` (use
    `direction`: true is `maximize`, false `minimize`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: BacktestSpec
    leg: int = Field(default=0, ge=0)
    grid: dict[str, list[Any]] = Field(min_length=1, max_length=8)
    rank_by: str | None = Field(
        default=None, min_length=1, deprecated=True, description=f"{_DEPRECATED}: use objective"
    )
    descending: bool | None = Field(
        default=None, deprecated=True, description=f"{_DEPRECATED}: use direction"
    )


def validate_sweep(session: SessionDep, request: SweepCreate) -> SweepSpec:
    """The sweep as stored, after checking every run of the grid would be accepted alone."""
    # Only the objective fields the client set: SweepSpec maps the deprecated ones and refuses
    # a field given under both names.
    unset = {"objective", "direction", "rank_by", "descending"} - request.model_fields_set
    try:
        spec = SweepSpec.model_validate(request.model_dump(mode="json", exclude=unset))
    except ValidationError as exc:
        raise InvalidRequest(exc.errors()[0]["msg"], field="grid") from exc
    validate_backtest(session, request.base)
    if request.leg >= len(request.base.legs):
        raise InvalidRequest(f"the base has {len(request.base.legs)} leg(s)", field="leg")
    for index, (params, child) in enumerate(expand(spec)):
        try:
            leg = BacktestSpec.model_validate(child).legs[request.leg]
            registry.build(leg.strategy.name, leg.strategy.params)
        except ValidationError as exc:
            raise InvalidRequest(
                f"run {index} ({params}): {exc.errors()[0]['msg']}", field="grid"
            ) from exc
        except InvalidRequest as exc:
            raise InvalidRequest(f"run {index} ({params}): {exc}", field="grid") from exc
    return spec


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, response_model=BacktestAccepted, responses=SUBMITTED
)
def create_sweep(
    request: SweepCreate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> BacktestAccepted:
    """Validate every run of the grid, queue the sweep; its runs fan out over the workers."""
    spec = validate_sweep(session, request)
    job = submit(session, user.id, JobKind.SWEEP, spec.model_dump(mode="json"), idempotency_key)
    response.headers["Location"] = f"/sweeps/{job.id}"
    return BacktestAccepted(id=job.id, status=JobStatus(job.status))


@router.get("", response_model=JobPage, responses=UNAUTHENTICATED)
def list_sweeps(
    user: CurrentUser,
    session: SessionDep,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobPage:
    """The caller's sweeps, newest first."""
    return list_page(session, user.id, JobKind.SWEEP, status_, limit, cursor)


@router.get("/{job_id}", response_model=JobPublic, responses={**UNAUTHENTICATED, **NOT_YOURS})
def read_sweep(job_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> JobPublic:
    """Status and progress (finished runs / runs); once succeeded, the ranking."""
    return job_public(owned_job(session, job_id, user.id, JobKind.SWEEP))


@router.get("/{job_id}/runs", response_model=JobPage, responses={**UNAUTHENTICATED, **NOT_YOURS})
def list_sweep_runs(
    job_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobPage:
    """The sweep's runs: backtest jobs, each readable at `/backtests/{id}`."""
    owned_job(session, job_id, user.id, JobKind.SWEEP)
    return list_page(session, user.id, JobKind.BACKTEST, None, limit, cursor, parent_id=job_id)


@router.delete("/{job_id}", response_model=JobPublic, responses=CANCELLED)
def delete_sweep(job_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> JobPublic:
    """Cancel the sweep and every run not finished yet."""
    return job_public(cancel(session, job_id, user.id, JobKind.SWEEP))
