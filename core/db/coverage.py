"""How much market data is stored for a range: what request validation checks before queueing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.bars import resolve_source
from core.db.models import Bar
from core.domain.timeframe import Timeframe

__all__ = ["stored_bar_count"]


def stored_bar_count(
    session: Session, symbol: str, timeframe: str, start: datetime, end: datetime
) -> int:
    """Stored bars `load_bars(symbol, timeframe, start, end)` would read: of `timeframe` itself,
    or of the finer stored timeframe it is resampled from (one index range count, no data read)."""
    raw = session.connection().connection.driver_connection
    source = resolve_source(raw, symbol, Timeframe.parse(timeframe))  # type: ignore[arg-type]
    if source is None:
        return 0
    return session.execute(
        select(func.count())
        .select_from(Bar)
        .where(
            Bar.symbol == symbol,
            Bar.timeframe == source.value,
            Bar.opened_at >= start,
            Bar.opened_at < end,
        )
    ).scalar_one()
