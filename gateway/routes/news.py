"""`GET /news/search` and `GET /news/moves` for authenticated users, answered by the analyst
service over HTTP.

Point-in-time retrieval (docs/analyst.md): the top-k articles published in `[at - window, at]`,
never anything later. The gateway validates the query's shape and forwards it unchanged.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from gateway.analyst_client import forward_get
from gateway.deps import CurrentUser
from gateway.upstream import AnalystDep, analyst_responses
from velocitas.domain.symbols import SYMBOL_PATTERN
from velocitas.domain.timeframe import Timeframe
from velocitas.timeparse import Instant

router = APIRouter(prefix="/news", tags=["news"])

MAX_K = 1000  # the analyst's own limit


@router.get(
    "/search",
    responses=analyst_responses("The analyst's hits: `query`, `at`, `symbol`, `window`, `hits`."),
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


@router.get(
    "/moves",
    responses=analyst_responses("The analyst's tagged moves: `moves[]` with `tag` and `articles`."),
)
async def read_news_moves(
    request: Request,
    user: CurrentUser,
    analyst: AnalystDep,
    symbol: Annotated[str, Query(pattern=SYMBOL_PATTERN, description="e.g. BTCUSD.")],
    start: Annotated[Instant, Query(description="First bar opened at or after (inclusive).")],
    end: Annotated[Instant, Query(description="Bars opened before (exclusive).")],
    timeframe: Timeframe = Timeframe.H1,
    k: Annotated[float, Query(gt=0, le=100, description="Unusual: |return| > k sigma.")] = 3.0,
    lookback: Annotated[int, Query(ge=2, le=10_000, description="Returns in sigma.")] = 100,
    window: Annotated[str, Query(max_length=32, description="News before the close.")] = "1d",
) -> Response:
    """Bars whose |log return| exceeded k sigma (point in time), tagged good, bad, neutral or
    no news by the stored sentiment of the news published in `window` before their close."""
    params = {
        "symbol": symbol,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "timeframe": timeframe.value,
        "k": repr(k),
        "lookback": str(lookback),
        "window": window,
    }
    return await forward_get(analyst, request, "/news/moves", params)
