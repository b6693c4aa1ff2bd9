"""What bar series are stored: per symbol and timeframe, span, count and gaps."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg

from velocitas.db.engine import connect, libpq_url
from velocitas.domain.timeframe import Timeframe
from velocitas.ingest.loader import database_errors

# One ordered pass over the primary key (an index-only scan, no sort): `lag` sees each bar's
# predecessor, so a gap is a step longer than the timeframe (added in UTC, where a month is a
# calendar month). Missing slots need no such pass at all: grid slots in the span - count.
_SERIES = """
SELECT symbol, timeframe, min(opened_at), max(opened_at), count(*),
       count(*) FILTER (WHERE (previous AT TIME ZONE 'UTC') + step < (opened_at AT TIME ZONE 'UTC'))
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


def list_series(database_url: str | None = None) -> list[SeriesInfo]:
    """Every stored (symbol, timeframe) series, ordered by symbol then timeframe."""
    steps = " ".join(f"WHEN '{t.value}' THEN interval '{_step(t)}'" for t in Timeframe)
    conn = connect() if database_url is None else psycopg.connect(libpq_url(database_url))
    with database_errors("bar"), conn:
        rows = conn.execute(_SERIES.format(steps=steps)).fetchall()
    series = []
    for symbol, timeframe, first, last, bars, gaps in rows:
        slots = Timeframe(timeframe).bars_in(first, last) + 1
        series.append(SeriesInfo(symbol, timeframe, first, last, bars, slots - bars, gaps))
    return series


def _step(timeframe: Timeframe) -> str:
    return f"{timeframe.seconds} s" if timeframe.fixed else "1 month"
