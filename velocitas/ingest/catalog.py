"""What bar series are stored (per symbol and timeframe: span, count and gaps), and deleting one."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import psycopg

from velocitas.db.bars import stored_series
from velocitas.db.engine import connect, libpq_url
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest
from velocitas.ingest.loader import database_errors, lock_series
from velocitas.ingest.summary import span_of

# One ordered pass over the primary key (an index-only scan, no sort): `lag` sees each bar's
# predecessor, so a gap is a step longer than the timeframe (added in UTC, where a month is a
# calendar month). Missing slots need no such pass at all: grid slots in the span - count.
_SERIES = """
SELECT symbol, timeframe, min(opened_at), max(opened_at), count(*),
       count(*) FILTER (
           WHERE (previous AT TIME ZONE 'UTC') + step < (opened_at AT TIME ZONE 'UTC')
       ),
       count(*) FILTER (WHERE extract(isodow FROM opened_at AT TIME ZONE 'UTC') = 6)
FROM (
    SELECT symbol, timeframe, opened_at,
           lag(opened_at) OVER (PARTITION BY symbol, timeframe ORDER BY opened_at) AS previous,
           CASE timeframe {steps} END AS step
    FROM bar
) AS b
GROUP BY symbol, timeframe
ORDER BY symbol, timeframe
"""


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """One stored series: first and last bar, how many bars, missing grid slots between them
    (`missing_bars`) and in how many runs (`gap_count`)."""

    symbol: str
    timeframe: str
    first_opened_at: datetime
    last_opened_at: datetime
    bars: int
    missing_bars: int
    gap_count: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_SPAN = """
SELECT count(*), min(opened_at), max(opened_at) FROM bar
WHERE symbol = %(symbol)s::varchar AND timeframe = %(timeframe)s::varchar
"""

# One statement: the bar_data_version trigger bumps once, and bar caches re-read.
_DELETE = """
WITH gone AS (
    DELETE FROM bar WHERE symbol = %(symbol)s::varchar AND timeframe = %(timeframe)s::varchar
    RETURNING opened_at
)
SELECT count(*), min(opened_at), max(opened_at) FROM gone
"""


@dataclass(frozen=True, slots=True)
class SeriesSpan:
    """A stored series' bar count and first and last bar."""

    symbol: str
    timeframe: str
    bars: int
    first_opened_at: datetime
    last_opened_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def series_span(symbol: str, timeframe: Timeframe, database_url: str | None = None) -> SeriesSpan:
    """How many bars of `symbol` at `timeframe` are stored, from when to when. A series with
    no bar is an `InvalidRequest` that lists the stored ones."""
    with database_errors("bar"), _connect(database_url) as conn:
        return _span(conn, _SPAN, symbol, timeframe)


def delete_series(symbol: str, timeframe: Timeframe, database_url: str | None = None) -> SeriesSpan:
    """Delete every bar of `symbol` at `timeframe` in one transaction; returns what went.
    Queues behind (and ahead of) imports of the same series. A series with no bar is an
    `InvalidRequest` that lists the stored ones, and deletes nothing."""
    with database_errors("bar"), _connect(database_url) as conn, conn.transaction():
        lock_series(conn, symbol, timeframe)
        return _span(conn, _DELETE, symbol, timeframe)


def _span(conn: psycopg.Connection, sql: str, symbol: str, timeframe: Timeframe) -> SeriesSpan:
    row = conn.execute(sql, {"symbol": symbol, "timeframe": timeframe.value}).fetchone()
    assert row is not None
    bars, first, last = row
    if not bars:
        stored = ", ".join(f"{s.symbol} {s.timeframe}" for s in stored_series(conn))
        raise InvalidRequest(
            f"no {timeframe.value} bars stored for {symbol!r}; stored: {stored or 'nothing'}",
            field="symbol",
        )
    return SeriesSpan(symbol, timeframe.value, int(bars), first, last)


def _connect(database_url: str | None) -> psycopg.Connection:
    return connect() if database_url is None else psycopg.connect(libpq_url(database_url))


# A market closed on weekends: its gaps are measured against its calendar, from its times.
_TIMES = """
SELECT (extract(epoch FROM opened_at) * 1000000)::bigint FROM bar
WHERE symbol = %s AND timeframe = %s ORDER BY opened_at
"""


def list_series(
    database_url: str | None = None, *, calendar: str | None = None
) -> list[SeriesInfo]:
    """Every stored (symbol, timeframe) series, ordered by symbol then timeframe.

    Missing bars and gaps count only the bars the market calendar expects: `calendar` when
    given, else the one each series' spacing suggests (`velocitas.calendars.infer_calendar`),
    so daily stock data shows no weekend or holiday gaps. A series with Saturday bars is 24/7
    and is counted in SQL alone; the others' times are read once.
    """
    steps = " ".join(f"WHEN '{t.value}' THEN interval '{_step(t)}'" for t in Timeframe)
    series = []
    with database_errors("bar"), _connect(database_url) as conn:
        rows = conn.execute(_SERIES.format(steps=steps)).fetchall()
        for symbol, timeframe, first, last, bars, gaps, saturdays in rows:
            frame = Timeframe(timeframe)
            weekends_closed = saturdays == 0 and last - first >= timedelta(days=2)
            if frame.per_year is None and (calendar is not None or weekends_closed):
                times = conn.execute(_TIMES, (symbol, timeframe)).fetchall()
                micros = np.fromiter((t for (t,) in times), dtype=np.int64, count=len(times))
                span = span_of(micros, frame, calendar_aware=True, calendar=calendar)
                missing, gaps = span.missing_bars, span.gap_count
            else:
                missing = frame.bars_in(first, last) + 1 - bars
            series.append(SeriesInfo(symbol, timeframe, first, last, bars, missing, gaps))
    return series


def _step(timeframe: Timeframe) -> str:
    return f"{timeframe.seconds} s" if timeframe.fixed else "1 month"
