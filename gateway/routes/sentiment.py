"""`GET /sentiment?symbol=&at=` for authenticated users, answered by the analyst over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from gateway.analyst_client import forward_get
from gateway.deps import CurrentUser
from gateway.upstream import AnalystDep, analyst_responses
from velocitas.timeparse import Instant

router = APIRouter(tags=["sentiment"])


@router.get(
    "/sentiment",
    responses=analyst_responses("`symbol`, `at`, `score` in [-1, 1], `n_docs`, `method`."),
)
async def read_sentiment(
    request: Request,
    user: CurrentUser,
    analyst: AnalystDep,
    symbol: Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._\-]+$")],
    at: Annotated[Instant, Query(description="As of this instant; nothing later.")],
) -> Response:
    """The news sentiment of `symbol` as of `at` (0 with `n_docs` 0 when there is no news)."""
    return await forward_get(
        analyst, request, "/sentiment", {"symbol": symbol, "at": at.isoformat()}
    )
