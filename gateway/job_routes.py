"""The routes every job resource has, declared once: `POST` (validate, queue, 202 with
`Location`, `Idempotency-Key`), `GET` (the caller's jobs, a page at a time), `GET /{job_id}`,
`DELETE /{job_id}` (cancel); and the pages some resources add (equity curve, child jobs).

A resource module (`routes/backtests.py`, ...) calls `job_router` with what differs (kind,
path, request model, how a request becomes the stored spec, the docs) and adds its own routes.
Route names follow STYLE.md (`create_backtest`, `list_backtests`, ...); FastAPI derives the
OpenAPI operation ids and summaries from them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel
from sqlalchemy.orm import Session

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
from gateway.schemas import BacktestAccepted, EquityPage, EquityPointPublic, JobPage, JobPublic
from velocitas.db import jobs as job_store
from velocitas.db.equity_read import read_curve
from velocitas.domain.events import JobKind, JobStatus
from velocitas.report.downsample import MAX_POINTS, minmax_indices

__all__ = ["JobDocs", "add_children_route", "add_equity_route", "job_router"]

_DISPLAY_DOC = (
    "The equity curve reduced for drawing to at most `points` points: the curve is cut into "
    "equal buckets and each keeps its first, lowest, highest and last point (`velocitas.report."
    "downsample`, as the HTML report draws), so every peak and drawdown low stays; `total` is the "
    "curve's length, values are the stored decimal strings."
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class EquityDisplayPoint(BaseModel):
    seq: int
    opened_at: datetime
    equity: str


class EquityDisplay(BaseModel):
    total: int
    """How many points the whole curve has."""
    items: list[EquityDisplayPoint]


RequestT = TypeVar("RequestT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class JobDocs:
    """The OpenAPI descriptions of a resource's four shared routes."""

    create: str
    list: str
    read: str
    delete: str


def job_router(
    kind: JobKind,
    path: str,
    *,
    noun: str,
    request_model: type[RequestT],
    prepare: Callable[[Session, RequestT], BaseModel],
    docs: JobDocs,
) -> APIRouter:
    """A router at `path` for jobs of `kind`: routes `create_<noun>`, `list_<noun>s`,
    `read_<noun>` and `delete_<noun>`. `prepare` validates a request against the database
    (`InvalidRequest` answers 422) and returns the spec to store with the job."""
    router = APIRouter(prefix=path, tags=[path.strip("/")])

    def create(
        request: Any,
        user: CurrentUser,
        session: SessionDep,
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> BacktestAccepted:
        spec = prepare(session, request).model_dump(mode="json")
        job = submit(session, user.id, kind, spec, idempotency_key)
        response.headers["Location"] = f"{path}/{job.id}"
        return BacktestAccepted(id=job.id, status=JobStatus(job.status))

    # The body's model is only known here: FastAPI reads it from the signature's annotations.
    create.__annotations__["request"] = request_model

    def list_jobs(
        user: CurrentUser,
        session: SessionDep,
        status_: Annotated[JobStatus | None, Query(alias="status")] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> JobPage:
        return list_page(session, user.id, kind, status_, limit, cursor)

    def read(job_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> JobPublic:
        return job_public(owned_job(session, job_id, user.id, kind))

    def delete(job_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> JobPublic:
        return job_public(cancel(session, job_id, user.id, kind))

    router.add_api_route(
        "",
        _documented(create, docs.create),
        methods=["POST"],
        name=f"create_{noun}",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=BacktestAccepted,
        responses=SUBMITTED,
    )
    router.add_api_route(
        "",
        _documented(list_jobs, docs.list),
        methods=["GET"],
        name=f"list_{noun}s",
        response_model=JobPage,
        responses=UNAUTHENTICATED,
    )
    router.add_api_route(
        "/{job_id}",
        _documented(read, docs.read),
        methods=["GET"],
        name=f"read_{noun}",
        response_model=JobPublic,
        responses={**UNAUTHENTICATED, **NOT_YOURS},
    )
    router.add_api_route(
        "/{job_id}",
        _documented(delete, docs.delete),
        methods=["DELETE"],
        name=f"delete_{noun}",
        response_model=JobPublic,
        responses=CANCELLED,
    )
    return router


def add_equity_route(router: APIRouter, kind: JobKind, *, name: str, doc: str) -> None:
    """`GET /{job_id}/equity`: the job's stored equity curve, a page at a time."""

    def list_equity(
        job_id: uuid.UUID,
        user: CurrentUser,
        session: SessionDep,
        after: Annotated[int, Query(ge=-1)] = -1,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> EquityPage:
        owned_job(session, job_id, user.id, kind)
        rows = job_store.list_equity(session, job_id, user.id, after=after, limit=limit + 1)
        return EquityPage(
            items=[EquityPointPublic.model_validate(r) for r in rows[:limit]],
            next_after=rows[limit - 1].seq if len(rows) > limit else None,
        )

    router.add_api_route(
        "/{job_id}/equity",
        _documented(list_equity, doc),
        methods=["GET"],
        name=name,
        response_model=EquityPage,
        responses={**UNAUTHENTICATED, **NOT_YOURS},
    )

    def display_equity(
        job_id: uuid.UUID,
        user: CurrentUser,
        session: SessionDep,
        points: Annotated[int, Query(ge=4, le=MAX_POINTS)] = 4000,
    ) -> EquityDisplay:
        owned_job(session, job_id, user.id, kind)
        curve = read_curve(session, job_id, user.id)
        kept = minmax_indices(curve.values(), points)
        return EquityDisplay(
            total=len(curve.exact),
            items=[
                EquityDisplayPoint(
                    seq=int(i),
                    opened_at=_EPOCH + timedelta(microseconds=int(curve.micros[i])),
                    equity=curve.exact[i],
                )
                for i in kept
            ],
        )

    router.add_api_route(
        "/{job_id}/equity/display",
        _documented(display_equity, _DISPLAY_DOC),
        methods=["GET"],
        name=name.replace("list_", "display_", 1),
        response_model=EquityDisplay,
        responses={**UNAUTHENTICATED, **NOT_YOURS},
    )


def add_children_route(
    router: APIRouter, kind: JobKind, child_kind: JobKind, *, suffix: str, name: str, doc: str
) -> None:
    """`GET /{job_id}/<suffix>`: the job's child jobs of `child_kind`, a page at a time."""

    def list_children(
        job_id: uuid.UUID,
        user: CurrentUser,
        session: SessionDep,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> JobPage:
        owned_job(session, job_id, user.id, kind)
        return list_page(session, user.id, child_kind, None, limit, cursor, parent_id=job_id)

    router.add_api_route(
        f"/{{job_id}}/{suffix}",
        _documented(list_children, doc),
        methods=["GET"],
        name=name,
        response_model=JobPage,
        responses={**UNAUTHENTICATED, **NOT_YOURS},
    )


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def _documented(endpoint: Endpoint, doc: str) -> Endpoint:
    # FastAPI takes an operation's description from its endpoint's docstring.
    endpoint.__doc__ = doc
    return endpoint
