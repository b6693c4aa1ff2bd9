"""SQL and range arithmetic behind `velocitas.db.bars` (internal to `velocitas.db`).

Statements are composed with `psycopg.sql` and values rendered as quoted literals, because
`COPY (…)` takes no bind parameters. Ordering and LIMIT sit on the outermost SELECT so that
PostgreSQL walks the `(symbol, timeframe, opened_at)` primary key (backwards for newest-first)
instead of sorting.
"""

from __future__ import annotations

from datetime import datetime

from psycopg import sql

from velocitas.domain.bars import from_epoch_ns
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest

BAR_COLUMNS = sql.SQL("opened_at, open, high, low, close, volume")


def range_select(
    columns: sql.Composable,
    symbol: str,
    timeframe: Timeframe,
    low: datetime | None,
    high: datetime | None,
    *,
    newest_first: bool = False,
    limit: int | None = None,
) -> sql.Composed:
    """`SELECT columns` of stored bars with `low <= opened_at < high`, in time order."""
    conditions: list[sql.Composable] = [
        sql.SQL("symbol = {}").format(sql.Literal(symbol)),
        sql.SQL("timeframe = {}").format(sql.Literal(timeframe.value)),
    ]
    if low is not None:
        conditions.append(sql.SQL("opened_at >= {}").format(sql.Literal(low)))
    if high is not None:
        conditions.append(sql.SQL("opened_at < {}").format(sql.Literal(high)))
    return sql.SQL("SELECT {} FROM bar WHERE {} ORDER BY opened_at {}{}").format(
        columns, sql.SQL(" AND ").join(conditions), _direction(newest_first), _limit(limit)
    )


def exact_select(
    symbol: str,
    source: Timeframe,
    target: Timeframe,
    low: datetime | None,
    high: datetime | None,
    *,
    newest_first: bool = False,
    limit: int | None = None,
) -> sql.Composed:
    """Bars of `target` as exact NUMERIC rows: stored ones, or aggregated from `source` rows
    in `[low, high)` (open first, high max, low min, close last, volume sum)."""
    if source == target:
        return range_select(
            BAR_COLUMNS, symbol, source, low, high, newest_first=newest_first, limit=limit
        )
    return sql.SQL(
        "SELECT {bucket} AS opened_at, (array_agg(open ORDER BY opened_at))[1], max(high), "
        "min(low), (array_agg(close ORDER BY opened_at DESC))[1], sum(volume) "
        "FROM ({rows}) AS source GROUP BY 1 ORDER BY 1 {direction}{limit}"
    ).format(
        bucket=bucket(target),
        rows=range_select(sql.SQL("*"), symbol, source, low, high),
        direction=_direction(newest_first),
        limit=_limit(limit),
    )


def bucket(target: Timeframe) -> sql.Composable:
    """The `target` interval an `opened_at` falls in, on the timeframe's UTC grid."""
    if not target.fixed:
        return sql.SQL("date_trunc('month', opened_at, 'UTC')")
    origin = target.floor(from_epoch_ns(0))
    return sql.SQL("date_bin({}::interval, opened_at, {}::timestamptz)").format(
        sql.Literal(f"{target.seconds} seconds"), sql.Literal(origin)
    )


def _direction(newest_first: bool) -> sql.SQL:
    return sql.SQL("DESC" if newest_first else "ASC")


def _limit(limit: int | None) -> sql.Composable:
    return sql.SQL("") if limit is None else sql.SQL(" LIMIT {}").format(sql.Literal(limit))


def parse_timeframe(timeframe: Timeframe | str) -> Timeframe:
    try:
        return Timeframe.parse(str(timeframe))
    except ValueError as exc:
        raise InvalidRequest(str(exc), field="timeframe") from exc


def check_range(start: datetime | None, end: datetime | None) -> None:
    """Aware bounds, `start <= end`; else `InvalidRequest` naming the bound."""
    for name, moment in (("start", start), ("end", end)):
        if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
            raise InvalidRequest(f"{name} {moment.isoformat()} has no timezone", field=name)
    if start is not None and end is not None and start > end:
        raise InvalidRequest(
            f"end {end.isoformat()} is before start {start.isoformat()}", field="end"
        )


def source_range(
    source: Timeframe, target: Timeframe, start: datetime | None, end: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """The source-bar range whose target bars open in `[start, end)`: both bounds rounded up
    to the target grid, so every included target bar gets all its source bars."""
    if source == target:
        return start, end
    return (
        None if start is None else target.ceil(start),
        None if end is None else target.ceil(end),
    )
