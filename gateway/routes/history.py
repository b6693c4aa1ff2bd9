"""`GET /history`: stored candles with exact decimal strings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Query, status

from gateway.deps import ConnectionDep, require_user
from gateway.schemas import CandlePublic, HistoryNotFound, HistoryPublic, ValidationProblem
from velocitas.db import bars
from velocitas.domain.bars import ExactBar
from velocitas.domain.symbols import SYMBOL_PATTERN
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest, NotFound

# Market data is for authenticated users only, like every other route (401 without a key).
router = APIRouter(
    tags=["history"],
    dependencies=[Depends(require_user)],
    responses={401: {"description": "Missing or invalid API key."}},
)

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000


@router.get(
    "/history",
    response_model=HistoryPublic,
    responses={
        status.HTTP_404_NOT_FOUND: {
            "model": HistoryNotFound,
            "description": "No bars of this symbol and timeframe, stored or derivable; "
            "`detail.available` lists the stored symbols and their timeframes.",
        },
        status.HTTP_422_UNPROCESSABLE_CONTENT: {
            "model": ValidationProblem,
            "description": "A parameter is invalid (unknown timeframe, bad time, start not "
            "before end, limit out of range); `detail[].loc` names it, `msg` says why.",
        },
    },
)
def read_history(
    conn: ConnectionDep,
    # Only what the importer accepts can name stored bars; checking it here also keeps bytes
    # PostgreSQL refuses (NUL) away from the query.
    symbol: Annotated[str, Query(pattern=SYMBOL_PATTERN, description="e.g. BTCUSD.")],
    timeframe: Timeframe,
    start: Annotated[datetime | None, Query(description="Inclusive; no offset means UTC.")] = None,
    end: Annotated[datetime | None, Query(description="Exclusive; no offset means UTC.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> HistoryPublic:
    """Candles in ascending time order: from `start` the first `limit` ones; without `start`
    the newest `limit` ones before `end` (or the latest stored)."""
    start, end = _as_utc(start), _as_utc(end)
    if start is not None and end is not None and start >= end:
        raise InvalidRequest(
            f"end {end.isoformat()} must be after start {start.isoformat()}", field="query.end"
        )
    try:
        candles = bars.read_candles(conn, symbol, timeframe, start=start, end=end, limit=limit)
    except NotFound as exc:
        raise NotFound(str(exc), available=_available(conn)) from exc
    except InvalidRequest as exc:
        # every parameter the store checks is a query parameter of this route
        raise InvalidRequest(str(exc), field=f"query.{exc.field or ''}") from exc
    return HistoryPublic(symbol=symbol, timeframe=timeframe, candles=[_candle(c) for c in candles])


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _available(conn: psycopg.Connection) -> list[dict[str, Any]]:
    by_symbol: dict[str, list[str]] = {}
    for series in bars.stored_series(conn):
        by_symbol.setdefault(series.symbol, []).append(series.timeframe)
    return [{"symbol": s, "timeframes": t} for s, t in by_symbol.items()]


def _candle(bar: ExactBar) -> CandlePublic:
    return CandlePublic(
        opened_at=bar.opened_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        open=_decimal(bar.open),
        high=_decimal(bar.high),
        low=_decimal(bar.low),
        close=_decimal(bar.close),
        volume=_decimal(bar.volume),
    )


def _decimal(value: Decimal) -> str:
    # format "f": positional notation as stored ("0.00000001", never "1E-8")
    return format(value, "f")
