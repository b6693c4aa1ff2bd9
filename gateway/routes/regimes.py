"""`GET /regimes` (the regime as of an instant) and `GET /regimes/series` (over a range).

Market data is everyone's: any authenticated user may read it (401 without a key). Both read
the series from its first stored bar, so a bar's regime is the same whichever route, range or
instant asked for it, and only bars closed by the instant asked about are used.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Query, status

from gateway.deps import SettingsDep, require_user
from gateway.schemas import (
    RegimeMeasuresPublic,
    RegimePublic,
    RegimeSeriesPublic,
    ValidationProblem,
)
from velocitas.db.bars import load_bars, stored_span
from velocitas.domain.bars import BarArrays
from velocitas.domain.symbols import SYMBOL_PATTERN
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest
from velocitas.research.regimes import Regime, Regimes, classify_regimes
from velocitas.timeparse import in_range

router = APIRouter(
    prefix="/regimes",
    tags=["regimes"],
    dependencies=[Depends(require_user)],
    responses={
        401: {"description": "Missing or invalid API key."},
        status.HTTP_422_UNPROCESSABLE_CONTENT: {
            "model": ValidationProblem,
            "description": "A parameter is invalid (no such series, no bar closed by `at`, "
            "empty range, too many bars); `detail[].loc` names it.",
        },
    },
)

MAX_SERIES_BARS = 100_000
NS_RANGE = (datetime(1678, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC))
"""Instants bar arithmetic (int64 nanoseconds) can hold; beyond them no bar can lie."""

Symbol = Annotated[str, Query(pattern=SYMBOL_PATTERN, description="e.g. BTCUSD.")]


@router.get("", response_model=RegimePublic)
def read_regime(
    settings: SettingsDep,
    symbol: Symbol,
    timeframe: Timeframe,
    at: Annotated[datetime, Query(description="As of this instant; no offset means UTC.")],
) -> RegimePublic:
    """The regime of the last bar closed by `at`, with its confidence and measures."""
    at = _as_utc(at, "at")
    if at < NS_RANGE[0]:
        raise InvalidRequest(f"no bar closed by {at.isoformat()}", field="query.at")
    # bars opened before the opening of the bar `at` falls in have closed by `at`
    end = timeframe.floor(at) if at < NS_RANGE[1] else None
    bars = _load(settings.database_url, symbol, timeframe, end)
    if not len(bars):
        raise InvalidRequest(
            f"no {symbol} {timeframe} bar closed by {at.isoformat()}", field="query.at"
        )
    found = classify_regimes(bars.high, bars.low, bars.close)
    i = len(bars) - 1
    measures = {
        name: _number(getattr(found, name)[i]) for name in RegimeMeasuresPublic.model_fields
    }
    return RegimePublic(
        symbol=symbol,
        timeframe=timeframe,
        at=at,
        opened_at=_instant(bars.opened_at[i]),
        regime=Regime(int(found.labels[i])).label,
        confidence=_number(found.confidence[i]),
        measures=RegimeMeasuresPublic(**measures),
    )


@router.get("/series", response_model=RegimeSeriesPublic)
def read_regime_series(
    settings: SettingsDep,
    symbol: Symbol,
    timeframe: Timeframe,
    start: Annotated[datetime, Query(description="Inclusive; no offset means UTC.")],
    end: Annotated[datetime, Query(description="Exclusive; no offset means UTC.")],
) -> RegimeSeriesPublic:
    """The regime and confidence of every bar opened in `[start, end)`."""
    start, end = _as_utc(start, "start"), _as_utc(end, "end")
    if start >= end:
        raise InvalidRequest(
            f"end {end.isoformat()} must be after start {start.isoformat()}", field="query.end"
        )
    bars = _load(settings.database_url, symbol, timeframe, end if end < NS_RANGE[1] else None)
    first = int(np.searchsorted(bars.opened_at, _ns(min(max(start, NS_RANGE[0]), NS_RANGE[1]))))
    if first == len(bars):
        raise InvalidRequest(f"no {symbol} {timeframe} bars in the range", field="query.start")
    if len(bars) - first > MAX_SERIES_BARS:
        raise InvalidRequest(
            f"the range holds {len(bars) - first} bars, at most {MAX_SERIES_BARS}",
            field="query.end",
        )
    found: Regimes = classify_regimes(bars.high, bars.low, bars.close)
    return RegimeSeriesPublic(
        symbol=symbol,
        timeframe=timeframe,
        opened_at=[_instant(ns) for ns in bars.opened_at[first:]],
        regime=[Regime(int(label)).label for label in found.labels[first:]],
        confidence=[_number(c) for c in found.confidence[first:]],
    )


def _load(
    database_url: str | None, symbol: str, timeframe: Timeframe, end: datetime | None
) -> BarArrays:
    bars = load_bars(symbol, timeframe, None, end, database_url=database_url)
    if not len(bars) and stored_span(symbol, timeframe, database_url=database_url) is None:
        raise InvalidRequest(f"no {timeframe} bars of {symbol} are stored", field="query.symbol")
    return bars


def _as_utc(moment: datetime, field: str) -> datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        return in_range(aware)  # years 1 and 9999 overflow a bar grid's arithmetic
    except ValueError as exc:
        raise InvalidRequest(str(exc), field=f"query.{field}") from None


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


def _instant(ns: np.int64) -> datetime:
    return datetime.fromtimestamp(int(ns) // 10**9, tz=UTC)


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)
