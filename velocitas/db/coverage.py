"""How much market data is stored for a range: what request validation checks before queueing."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from velocitas.db.bars import resolve_source
from velocitas.db.models import Bar
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest

__all__ = ["Coverage", "require_stored_bars", "stored_bar_coverage"]


class Coverage(enum.Enum):
    """How many stored bars a range holds, measured against a limit."""

    NONE = "none"
    WITHIN = "within"  # at least one, at most the limit
    OVER = "over"  # more than the limit


def stored_bar_coverage(
    session: Session, symbol: str, timeframe: str, start: datetime, end: datetime, *, limit: int
) -> Coverage:
    """Whether `load_bars(symbol, timeframe, start, end)` would read no stored bar, at most
    `limit`, or more: bars of `timeframe` itself, or of the finer stored timeframe it is
    resampled from.

    A range too short to hold more than `limit` bars of that timeframe costs one primary-key
    probe; a longer one, an index range count that stops past `limit`. No data is read.
    """
    source = _source(session, symbol, timeframe)
    if source is None:
        return Coverage.NONE
    in_range = _in_range(symbol, source, start, end)
    if source.bars_in(start, end) <= limit:
        found = session.execute(select(Bar.opened_at).where(*in_range).limit(1)).first()
        return Coverage.NONE if found is None else Coverage.WITHIN
    rows = select(Bar.opened_at).where(*in_range).limit(limit + 1).subquery()
    count = session.execute(select(func.count()).select_from(rows)).scalar_one()
    return Coverage.NONE if count == 0 else Coverage.WITHIN if count <= limit else Coverage.OVER


def require_stored_bars(
    session: Session,
    symbol: str,
    timeframe: str,
    start: datetime,
    end: datetime,
    *,
    field: str,
    limit: int | None = None,
) -> None:
    """Raise `InvalidRequest` naming `field` when no bar of the range is stored, and naming
    `end` when more than `limit` are (no upper check without a limit)."""
    coverage = stored_bar_coverage(session, symbol, timeframe, start, end, limit=limit or 1)
    if coverage is Coverage.NONE:
        raise InvalidRequest(
            f"no {timeframe} bars of {symbol!r} stored in [{start.isoformat()}, {end.isoformat()})",
            field=field,
        )
    if limit is not None and coverage is Coverage.OVER:
        raise InvalidRequest(
            f"more than {limit} bars of {symbol!r} in range; split the run", field="end"
        )


def _source(session: Session, symbol: str, timeframe: str) -> Timeframe | None:
    raw = session.connection().connection.driver_connection
    return resolve_source(raw, symbol, Timeframe.parse(timeframe))  # type: ignore[arg-type]


def _in_range(
    symbol: str, source: Timeframe, start: datetime, end: datetime
) -> list[ColumnElement[bool]]:
    return [
        Bar.symbol == symbol,
        Bar.timeframe == source.value,
        Bar.opened_at >= start,
        Bar.opened_at < end,
    ]
