"""The sentiment feature: one score per bar, as of the bar's close, upserted into `sentiment`.

`at = opened_at + timeframe`: the observation for a bar is formed at its close, so news published
up to then is known and nothing later is used. Re-running overwrites the same rows (idempotent).

Speed without approximation: the symbol's publication times are read once; a bar whose window
holds no article scores 0 without a query, and a bar whose window holds exactly the same articles
as the previous bar's reuses that retrieval (the top-k of the same rows is the same) and only
re-weights it for the new instant. Results equal `SentimentAnalyst.score` bar by bar.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from analyst.retrieval import Hit
from analyst.sentiment import SentimentAnalyst
from analyst.store import connect
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest

__all__ = ["SeriesReport", "write_series"]

UPSERT_SENTIMENT = """
INSERT INTO sentiment (symbol, timeframe, at, score, n_docs, method)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (symbol, timeframe, at) DO UPDATE
SET score = EXCLUDED.score, n_docs = EXCLUDED.n_docs, method = EXCLUDED.method
"""


@dataclass(frozen=True, slots=True)
class SeriesReport:
    symbol: str
    timeframe: str
    bars: int
    with_news: int
    mean_score: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "bars": self.bars,
            "with_news": self.with_news,
            "mean_score": round(self.mean_score, 6),
        }


def _publication_times(
    conn: psycopg.Connection, symbol: str, since: datetime, until: datetime
) -> list[datetime]:
    rows = conn.execute(
        "SELECT published_at FROM news WHERE symbols @> ARRAY[%s::varchar] "
        "AND published_at >= %s AND published_at <= %s ORDER BY published_at",
        (symbol, since, until),
    ).fetchall()
    conn.commit()
    return [row[0] for row in rows]


def write_series(
    analyst: SentimentAnalyst,
    symbol: str,
    timeframe: Timeframe,
    start: datetime,
    end: datetime,
    *,
    progress: Callable[[int], Callable[[int], None]] | None = None,
) -> SeriesReport:
    """Score every stored `symbol`/`timeframe` bar opened in `[start, end)` and upsert."""
    symbol = symbol.upper()
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidRequest("start/end: need a time zone", field="start")
    if end <= start:
        raise InvalidRequest("end: must be after start", field="end")
    with connect(analyst.settings) as conn:
        opened = [
            row[0]
            for row in conn.execute(
                "SELECT opened_at FROM bar WHERE symbol = %s AND timeframe = %s "
                "AND opened_at >= %s AND opened_at < %s ORDER BY opened_at",
                (symbol, timeframe.value, start, end),
            )
        ]
        conn.commit()
        if not opened:
            raise InvalidRequest(
                f"no {symbol} {timeframe.value} bars opened in [{start.isoformat()}, "
                f"{end.isoformat()}): import market data first",
                field="symbol",
            )
        advance = progress(len(opened)) if progress else None
        published = _publication_times(
            conn, symbol, timeframe.add(opened[0]) - analyst.window, timeframe.add(opened[-1])
        )
        rows = []
        previous_range: tuple[int, int] | None = None
        hits: list[Hit] = []
        for opened_at in opened:
            at = timeframe.add(opened_at)
            # Same bounds as retrieval: since <= published_at <= at.
            in_window = (
                bisect_left(published, at - analyst.window),
                bisect_right(published, at),
            )
            if in_window != previous_range:
                empty = in_window[0] == in_window[1]
                hits = [] if empty else analyst.relevant_news(symbol, at, conn=conn)
                previous_range = in_window
            result = analyst.combine_hits(hits, at)
            rows.append((symbol, timeframe.value, at, result.score, result.n_docs, result.method))
            if advance:
                advance(1)
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(UPSERT_SENTIMENT, rows)
    with_news = [row for row in rows if row[4] > 0]
    return SeriesReport(
        symbol=symbol,
        timeframe=timeframe.value,
        bars=len(rows),
        with_news=len(with_news),
        mean_score=sum(row[3] for row in rows) / len(rows),
    )
