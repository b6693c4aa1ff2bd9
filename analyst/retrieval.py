"""Point-in-time retrieval: the top-k articles by cosine similarity among those published in
`[at - window, at]` (and naming `symbol`), never one published after `at`.

Exactness. pgvector 0.6's HNSW scan returns `hnsw.ef_search` candidates and only then applies
the WHERE clause, so a filtered HNSW query can return fewer or wrong rows. Whenever the filter
can remove anything (a symbol, a window reaching past the oldest article, or an `at` before the
newest one), distances are computed exactly over the filtered rows: the rows are selected
through the btree (published_at) and GIN (symbols) indexes inside a MATERIALIZED CTE, which the
planner cannot answer with the HNSW index, then sorted by distance (ties by id). Only when the
filter is a no-op is the HNSW index used, with `hnsw.ef_search` raised for recall.
The choice and the query run in one REPEATABLE READ transaction, so they see the same rows.

Tone. Sentence embeddings encode what a text is about far better than which way it points:
"price crash" and "hits new high" are both about a price move, and antonyms sit close together
(on the sample news, "price crash" ranked a positive headline such as "hits new high" first in
11 to 18 of 87 daily 3-day windows). So `search` reads the query's tone with the offline finance
scorer and, when it has one, re-ranks a wider pool of nearest articles by `relevance =
similarity + TONE_WEIGHT × sign(query tone) × headline tone`: articles pointing the query's way
rise, those pointing the other way sink, and a neutral query ("Apple earnings") keeps the pure
similarity order. `search_vector` (used by the sentiment score, which must not prefer one tone)
never re-ranks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import psycopg
from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus

from analyst.scorers import NEUTRAL_BAND, FinanceVaderScorer
from analyst.store import connect
from analyst.telemetry import RETRIEVAL
from velocitas.errors import InvalidRequest
from velocitas.settings import Settings

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

__all__ = [
    "Hit",
    "any_news",
    "choose_strategy",
    "rerank_by_tone",
    "search",
    "search_vector",
]

MAX_K = 1000
TONE_WEIGHT = 0.2
"""How far a headline's tone (in [-1, 1]) moves its relevance; cosine similarities of related
headlines differ by about 0.05-0.3, so a clear opposite tone outweighs a small similarity lead."""
TONE_POOL = 50
"""A toned query re-ranks at least this many nearest articles (and at least 4 × k)."""
MAX_EF_SEARCH = 1000  # pgvector's upper bound for hnsw.ef_search
Strategy = Literal["exact", "hnsw"]

_COLUMNS = "n.id, n.url, n.headline, n.body, n.source, n.published_at, n.symbols"

EXACT_SQL = f"""
WITH candidates AS MATERIALIZED (
    SELECT id, embedding FROM news
    WHERE published_at <= %(at)s
      AND (%(since)s::timestamptz IS NULL OR published_at >= %(since)s)
      AND (%(symbol)s::text IS NULL OR symbols @> ARRAY[%(symbol)s::varchar])
), nearest AS (
    SELECT id, embedding <=> %(vector)s AS distance FROM candidates
    ORDER BY distance, id LIMIT %(k)s
)
SELECT {_COLUMNS}, nearest.distance
FROM nearest JOIN news n USING (id)
ORDER BY nearest.distance, n.id
"""

ANY_SQL = """
SELECT 1 FROM news
WHERE published_at <= %(at)s
  AND (%(since)s::timestamptz IS NULL OR published_at >= %(since)s)
  AND (%(symbol)s::text IS NULL OR symbols @> ARRAY[%(symbol)s::varchar])
LIMIT 1
"""

HNSW_SQL = f"""
SELECT {_COLUMNS}, n.embedding <=> %(vector)s AS distance
FROM news n
WHERE n.published_at <= %(at)s
ORDER BY n.embedding <=> %(vector)s
LIMIT %(k)s
"""


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    url: str
    headline: str
    body: str
    source: str
    published_at: datetime
    symbols: list[str]
    similarity: float
    """Cosine similarity with the query, 1 - cosine distance."""
    relevance: float
    """What the hits are ordered by: `similarity`, adjusted for tone by `search` (see above)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "headline": self.headline,
            "body": self.body,
            "source": self.source,
            "published_at": self.published_at.isoformat(),
            "symbols": self.symbols,
            "similarity": round(self.similarity, 6),
            "relevance": round(self.relevance, 6),
        }


def search(
    query: str,
    *,
    at: datetime,
    embeddings: Embeddings,
    symbol: str | None = None,
    window: timedelta | None = None,
    k: int = 10,
    conn: psycopg.Connection | None = None,
    settings: Settings | None = None,
    ef_search: int = 100,
    tone_aware: bool = True,
) -> list[Hit]:
    """Top-`k` articles for `query` published in `[at - window, at]`, most relevant first.

    With `tone_aware` (the default) a query with a clear tone ("price crash", "rally") ranks
    articles of the same tone before those of the opposite tone (see the module docstring).
    """
    from analyst.embeddings import embed_query  # the model's stack, loaded by the first search

    _check(at, window, k)
    tone = _tone_scorer().score_text(query) if tone_aware else 0.0
    toned = abs(tone) >= NEUTRAL_BAND
    hits = search_vector(
        embed_query(embeddings, query),
        at=at,
        symbol=symbol,
        window=window,
        k=min(MAX_K, max(4 * k, TONE_POOL)) if toned else k,
        conn=conn,
        settings=settings,
        ef_search=ef_search,
    )
    return rerank_by_tone(hits, tone)[:k] if toned else hits


def rerank_by_tone(hits: list[Hit], query_tone: float) -> list[Hit]:
    """`hits` ordered by similarity + TONE_WEIGHT × sign(query_tone) × headline tone (ties by
    similarity order); a neutral `query_tone` leaves them as they are."""
    if abs(query_tone) < NEUTRAL_BAND:
        return hits
    direction = 1.0 if query_tone > 0 else -1.0
    tones = _tone_scorer().score_texts([hit.headline for hit in hits])
    rescored = [
        replace(hit, relevance=hit.similarity + TONE_WEIGHT * direction * tone)
        for hit, tone in zip(hits, tones, strict=True)
    ]
    order = sorted(range(len(rescored)), key=lambda i: (-rescored[i].relevance, i))
    return [rescored[i] for i in order]


@lru_cache(maxsize=1)
def _tone_scorer() -> FinanceVaderScorer:
    return FinanceVaderScorer()


def search_vector(
    vector: np.ndarray,
    *,
    at: datetime,
    symbol: str | None = None,
    window: timedelta | None = None,
    k: int = 10,
    conn: psycopg.Connection | None = None,
    settings: Settings | None = None,
    ef_search: int = 100,
    strategy: Strategy | None = None,
) -> list[Hit]:
    """`search` for an already embedded (unit) query vector; `strategy` overrides the choice."""
    _check(at, window, k)
    with RETRIEVAL.time():
        if conn is None:
            with connect(settings) as owned:
                return _run(owned, vector, at, symbol, window, k, ef_search, strategy)
        return _run(conn, vector, at, symbol, window, k, ef_search, strategy)


def any_news(
    *,
    at: datetime,
    symbol: str | None = None,
    window: timedelta | None = None,
    conn: psycopg.Connection | None = None,
    settings: Settings | None = None,
) -> bool:
    """Whether `search_vector` with these filters can return anything: lets a caller skip
    embedding its query (and loading the model) when no article qualifies."""
    _check(at, window, 1)
    params = {
        "at": at,
        "since": at - window if window is not None else None,
        "symbol": symbol.upper() if symbol else None,
    }
    if conn is None:
        with connect(settings) as owned:
            return _any(owned, params)
    return _any(conn, params)


def _any(conn: psycopg.Connection, params: dict[str, Any]) -> bool:
    with conn.transaction():  # commits its own, or a savepoint inside the caller's
        row = conn.execute(ANY_SQL, params).fetchone()
    return row is not None


def _check(at: datetime, window: timedelta | None, k: int) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidRequest("at: needs a time zone (Z or +hh:mm)", field="at")
    if window is not None and window <= timedelta(0):
        raise InvalidRequest("window: must be positive", field="window")
    if not 1 <= k <= MAX_K:
        raise InvalidRequest(f"k: must be between 1 and {MAX_K}", field="k")


def _run(
    conn: psycopg.Connection,
    vector: np.ndarray,
    at: datetime,
    symbol: str | None,
    window: timedelta | None,
    k: int,
    ef_search: int,
    strategy: Strategy | None,
) -> list[Hit]:
    since = at - window if window is not None else None
    params = {
        "at": at,
        "since": since,
        "symbol": symbol.upper() if symbol else None,
        "vector": np.asarray(vector, dtype=np.float32),
        "k": k,
    }
    if conn.info.transaction_status == TransactionStatus.IDLE:
        # Our own snapshot: the strategy check and the query see the same rows.
        previous = conn.isolation_level
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        try:
            with conn.transaction():
                rows = _query(conn, params, at, since, symbol, ef_search, strategy)
        finally:
            conn.isolation_level = previous
    else:  # inside the caller's transaction: a savepoint, the caller's isolation level
        with conn.transaction():
            rows = _query(conn, params, at, since, symbol, ef_search, strategy)
    hits = [_hit(row) for row in rows]
    if any(hit.published_at > at for hit in hits):  # the promise this module exists for
        raise AssertionError("retrieval returned an article published after `at`")
    return hits


def _query(
    conn: psycopg.Connection,
    params: dict[str, Any],
    at: datetime,
    since: datetime | None,
    symbol: str | None,
    ef_search: int,
    strategy: Strategy | None,
) -> list[tuple[Any, ...]]:
    chosen = strategy or choose_strategy(conn, at, since, symbol)
    if chosen == "hnsw":
        ef = min(MAX_EF_SEARCH, max(ef_search, params["k"]))
        conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(ef),))
        return conn.execute(HNSW_SQL, params).fetchall()
    return conn.execute(EXACT_SQL, params).fetchall()


def choose_strategy(
    conn: psycopg.Connection, at: datetime, since: datetime | None, symbol: str | None
) -> Strategy:
    """`hnsw` only when the filter cannot remove a row; `exact` otherwise."""
    if symbol:
        return "exact"
    row = conn.execute("SELECT min(published_at), max(published_at) FROM news").fetchone()
    oldest, newest = row if row else (None, None)
    if newest is None or newest > at or (since is not None and oldest < since):
        return "exact"
    return "hnsw"


def _hit(row: tuple[Any, ...]) -> Hit:
    id_, url, headline, body, source, published_at, symbols, distance = row
    return Hit(
        id=id_,
        url=url,
        headline=headline,
        body=body,
        source=source,
        published_at=published_at,
        symbols=list(symbols),
        similarity=1.0 - float(distance),
        relevance=1.0 - float(distance),
    )
