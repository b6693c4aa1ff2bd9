"""News-tagged moves: the bars whose return was unusual, with the news that came before them.

A bar's move is unusual when |r_t| > k sigma_t, r_t = ln(close_t / close_(t-1)) and sigma_t the
sample standard deviation of the `lookback` returns before it (point in time: r_t itself is
not in it). Each such bar is tagged with the articles tagged with the symbol and published in
`(closed_at - window, closed_at]`, closed_at being the bar's close: their net sentiment is the
mean of their stored scores (`news.sentiment_score`, computed once at ingest; articles stored
before scores were kept are scored on first read and stored). The tag:

    "good news"     net >= NEUTRAL_BAND (0.05)
    "bad news"      net <= -NEUTRAL_BAND
    "neutral news"  articles whose scores net out within the band
    "no news"       no article in the window

`agrees` says whether the news points the way the price moved (null without a tag either way).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg

from analyst.scorers import NEUTRAL_BAND, ArticleScorer
from analyst.store import score_unscored
from velocitas.db.bars import load_bars, stored_span
from velocitas.domain.bars import from_epoch_ns, to_epoch_ns
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest

__all__ = ["MAX_BARS", "MoveArticle", "TaggedMove", "news_moves"]

MAX_BARS = 200_000
"""Most bars one query may scan."""
SHOWN_ARTICLES = 5
NS_RANGE = (datetime(1678, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC))


@dataclass(frozen=True, slots=True)
class MoveArticle:
    id: int
    headline: str
    source: str
    published_at: datetime
    score: float


@dataclass(frozen=True, slots=True)
class TaggedMove:
    opened_at: datetime
    closed_at: datetime
    log_return: float
    sigma: float
    z: float
    n_docs: int
    net_sentiment: float | None
    tag: str
    agrees: bool | None
    articles: list[MoveArticle]

    def as_dict(self) -> dict[str, Any]:
        return {
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "log_return": round(self.log_return, 8),
            "sigma": round(self.sigma, 8),
            "z": round(self.z, 4),
            "direction": "up" if self.log_return > 0 else "down",
            "n_docs": self.n_docs,
            "net_sentiment": None if self.net_sentiment is None else round(self.net_sentiment, 6),
            "tag": self.tag,
            "agrees": self.agrees,
            "articles": [
                {
                    "id": a.id,
                    "headline": a.headline,
                    "source": a.source,
                    "published_at": a.published_at,
                    "score": round(a.score, 6),
                }
                for a in self.articles
            ],
        }


def news_moves(
    conn: psycopg.Connection,
    *,
    symbol: str,
    timeframe: Timeframe,
    start: datetime,
    end: datetime,
    k: float,
    lookback: int,
    window: timedelta,
    scorer: ArticleScorer,
    database_url: str,
) -> list[TaggedMove]:
    """The unusual moves of bars opened in `[start, end)`, each with its news (see above)."""
    if start >= end:
        raise InvalidRequest(f"end {end.isoformat()} must be after start", field="end")
    # Bar arithmetic is in int64 nanoseconds (years 1678 to 2261): beyond, no bar can lie.
    start = min(max(start, NS_RANGE[0]), NS_RANGE[1])
    end = min(max(end, NS_RANGE[0]), NS_RANGE[1])
    try:
        since: datetime | None = timeframe.add(start, -(lookback + 1))
    except (OverflowError, ValueError):
        since = None
    bars = load_bars(symbol, timeframe, since, end, database_url=database_url)
    if not len(bars) and stored_span(symbol, timeframe, database_url=database_url) is None:
        raise InvalidRequest(f"no {timeframe} bars of {symbol} are stored", field="symbol")
    if len(bars) > MAX_BARS + lookback + 1:
        raise InvalidRequest(
            f"the range holds about {len(bars) - lookback - 1} bars, at most {MAX_BARS}",
            field="end",
        )
    returns = np.diff(np.log(bars.close))
    sigma = _trailing_sd(returns, lookback)
    first = int(np.searchsorted(bars.opened_at, to_epoch_ns(start)))
    # returns[i - 1] is bar i's return
    flagged = [
        i
        for i in range(max(first, 1), len(bars))
        if sigma[i - 1] > 0 and abs(returns[i - 1]) > k * sigma[i - 1]
    ]
    if not flagged:
        return []
    opened = [from_epoch_ns(int(bars.opened_at[i])) for i in flagged]
    closed = [timeframe.add(t) for t in opened]
    articles = _articles(conn, symbol, closed[0] - window, closed[-1], scorer)
    published = np.array([to_epoch_ns(a.published_at) for a in articles], dtype=np.int64)
    moves = []
    for i, opened_at, closed_at in zip(flagged, opened, closed, strict=True):
        lo = int(np.searchsorted(published, to_epoch_ns(closed_at - window), side="right"))
        hi = int(np.searchsorted(published, to_epoch_ns(closed_at), side="right"))
        news = articles[lo:hi]
        r, s = float(returns[i - 1]), float(sigma[i - 1])
        net = float(np.mean([a.score for a in news])) if news else None
        tag = _tag(net)
        agrees = None if net is None or tag == "neutral news" else (net > 0) == (r > 0)
        moves.append(
            TaggedMove(
                opened_at=opened_at,
                closed_at=closed_at,
                log_return=r,
                sigma=s,
                z=r / s,
                n_docs=len(news),
                net_sentiment=net,
                tag=tag,
                agrees=agrees,
                articles=sorted(news, key=lambda a: -abs(a.score))[:SHOWN_ARTICLES],
            )
        )
    return moves


def _tag(net: float | None) -> str:
    if net is None:
        return "no news"
    if net >= NEUTRAL_BAND:
        return "good news"
    if net <= -NEUTRAL_BAND:
        return "bad news"
    return "neutral news"


def _trailing_sd(returns: np.ndarray, lookback: int) -> np.ndarray:
    """sigma[j]: the sample sd (ddof 1) of returns[j - lookback : j], NaN before; from
    deviations against the window's own first value, so no digit is lost to large sums."""
    out = np.full(len(returns), np.nan)
    if len(returns) <= lookback:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(returns[:-1], lookback)
    out[lookback:] = windows.std(axis=1, ddof=1)
    return out


def _articles(
    conn: psycopg.Connection,
    symbol: str,
    since: datetime,
    until: datetime,
    scorer: ArticleScorer,
) -> list[MoveArticle]:
    """Articles tagged `symbol` published in `(since, until]`, oldest first, each with its
    stored score (scored now, once, when it was stored without one)."""
    rows = conn.execute(
        """
        SELECT id, headline, source, published_at, sentiment_score FROM news
        WHERE symbols @> ARRAY[%s]::varchar[] AND published_at > %s AND published_at <= %s
        ORDER BY published_at, id
        """,
        (symbol.upper(), since, until),
    ).fetchall()
    missing = {row[0]: row[1] for row in rows if row[4] is None}
    fresh = score_unscored(conn, missing, scorer)
    conn.commit()
    return [
        MoveArticle(
            id=row[0],
            headline=row[1],
            source=row[2],
            published_at=row[3],
            score=float(row[4]) if row[4] is not None else fresh[row[0]],
        )
        for row in rows
    ]
