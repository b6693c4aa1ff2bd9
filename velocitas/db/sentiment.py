"""Read the news-sentiment series (written by the analyst) aligned to bars, for
`velocitas.features`.

The `sentiment` table holds, per (symbol, timeframe), the score as of each bar's close
(`at = opened_at + timeframe`): news published up to the instant the bar's observation is formed,
never later. Bars without a row (no news, or the series not computed) read as 0.
"""

from __future__ import annotations

import numpy as np
import psycopg

from velocitas import embedded
from velocitas.db.urls import libpq_url
from velocitas.domain.bars import BarArrays, from_epoch_ns
from velocitas.domain.timeframe import Timeframe

__all__ = ["bar_sentiment", "load_sentiment", "sentiment_as_of"]


def load_sentiment(
    symbol: str,
    timeframe: str,
    opened_at_ns: np.ndarray,
    *,
    database_url: str | None = None,
) -> np.ndarray:
    """Sentiment score per bar (float64, same length as `opened_at_ns`), 0 where none is stored.

    `opened_at_ns`: the bars' opening instants as int64 nanoseconds since the epoch (UTC).
    """
    opened = np.asarray(opened_at_ns, dtype=np.int64)
    result = np.zeros(opened.shape[0], dtype=np.float64)
    if opened.size == 0:
        return result
    closes = Timeframe.parse(timeframe).add_ns(opened, 1)
    url = libpq_url(database_url or embedded.database_url())
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            SELECT (extract(epoch FROM at) * 1000000)::bigint, score FROM sentiment
            WHERE symbol = %s AND timeframe = %s
              AND at >= %s AND at <= %s
            ORDER BY at
            """,
            (symbol, timeframe, from_epoch_ns(int(closes.min())), from_epoch_ns(int(closes.max()))),
        ).fetchall()
    if not rows:
        return result
    stored_ns = np.array([r[0] for r in rows], dtype=np.int64) * 1000
    scores = np.array([r[1] for r in rows], dtype=np.float64)
    position = np.clip(np.searchsorted(stored_ns, closes), 0, len(stored_ns) - 1)
    found = stored_ns[position] == closes
    result[found] = scores[position[found]]
    return result


def bar_sentiment(bars: BarArrays) -> np.ndarray:
    """The score at each of `bars`' closes (`load_sentiment` of their symbol, timeframe and
    opening instants): the sentiment column a policy trained with news reads."""
    return load_sentiment(bars.symbol, bars.timeframe, bars.opened_at)


def sentiment_as_of(
    symbol: str,
    timeframe: str,
    instants_ns: np.ndarray,
    *,
    database_url: str | None = None,
) -> np.ndarray:
    """The latest stored score at or before each instant (int64 ns, UTC), NaN where none is:
    what a watcher knew then, never a later row (the copilot's sentiment rules)."""
    instants = np.asarray(instants_ns, dtype=np.int64)
    result = np.full(instants.shape[0], np.nan)
    if instants.size == 0:
        return result
    moments = [from_epoch_ns(int(ns)) for ns in instants.tolist()]
    url = libpq_url(database_url or embedded.database_url())
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            SELECT q.i, s.score FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS q(t, i)
            CROSS JOIN LATERAL (
                SELECT score FROM sentiment
                WHERE symbol = %s AND timeframe = %s AND at <= q.t
                ORDER BY at DESC LIMIT 1
            ) AS s
            """,
            (moments, symbol, timeframe),
        ).fetchall()
    for position, score in rows:
        result[int(position) - 1] = score
    return result
