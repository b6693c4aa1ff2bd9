"""`GET /news/search` for authenticated users, answered by the analyst service over HTTP.

Point-in-time retrieval (docs/analyst.md): the top-k articles published in `[at - window, at]`,
never anything later. The gateway validates the query's shape and forwards it unchanged.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from gateway.analyst_client import forward_get
from gateway.deps import CurrentUser
from gateway.schemas import ErrorBody
from gateway.upstream import AnalystDep
from velocitas.timeparse import Instant

router = APIRouter(prefix="/news", tags=["news"])

MAX_K = 1000  # the analyst's own limit


@router.get(
    "/search",
    responses={
        200: {"description": "The analyst's hits: `query`, `at`, `symbol`, `window`, `hits`."},
        401: {"model": ErrorBody},
        503: {"model": ErrorBody, "description": "The analyst is down."},
        504: {"model": ErrorBody},
    },
)
async def search_news(
    request: Request,
    user: CurrentUser,
    analyst: AnalystDep,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="What to look for.")],
    at: Annotated[Instant, Query(description="As of this instant; nothing later.")],
    symbol: Annotated[str | None, Query(max_length=32)] = None,
    window: Annotated[str | None, Query(max_length=32, description="Look-back, e.g. 3d.")] = "3d",
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
) -> Response:
    """The top-k articles most similar to `q` published in `[at - window, at]`."""
    params = {"q": q, "at": at.isoformat(), "k": str(k), "window": window or ""}
    if symbol is not None:
        params["symbol"] = symbol
    return await forward_get(analyst, request, "/news/search", params)
