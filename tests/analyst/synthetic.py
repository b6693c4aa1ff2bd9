"""Synthetic stored news for retrieval tests: random unit vectors with known metadata."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from analyst.records import NewsRecord
from analyst.store import connect, insert_news
from velocitas.settings import Settings

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
SYMBOLS = ("AAA", "BBB", "CCC")


@dataclass
class Corpus:
    vectors: np.ndarray  # (n, dim) float32 unit rows, in id order (ids 1..n)
    published: np.ndarray  # seconds after EPOCH
    symbols: list[tuple[str, ...]]


def clustered_unit_vectors(rng: np.random.Generator, n: int, dim: int = 384) -> np.ndarray:
    """Points around 50 topic centres: shaped like real embeddings, unlike uniform noise."""
    centres = rng.normal(size=(50, dim))
    points = centres[rng.integers(0, 50, n)] + 0.8 * rng.normal(size=(n, dim))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32)


def store_corpus(database_url: str, n: int, *, seed: int = 1, days: int = 30) -> Corpus:
    rng = np.random.default_rng(seed)
    vectors = clustered_unit_vectors(rng, n)
    published = rng.integers(0, days * 86_400, n)
    symbols = [tuple(sorted(s for s in SYMBOLS if rng.random() < 0.4)) for _ in range(n)]
    records = [
        NewsRecord(
            headline=f"article {i}",
            body="",
            url=f"https://example.test/{i}",
            source="synthetic",
            published_at=EPOCH + timedelta(seconds=int(published[i])),
            symbols=symbols[i],
        )
        for i in range(n)
    ]
    with connect(Settings(database_url=database_url)) as conn:
        insert_news(conn, records, vectors)
        conn.commit()
    return Corpus(vectors=vectors, published=published, symbols=symbols)


def brute_force(
    corpus: Corpus,
    query: np.ndarray,
    *,
    at: datetime,
    window: timedelta | None,
    symbol: str | None,
    k: int,
) -> list[int]:
    """Ids (1-based, insertion order) of the exact top-k by cosine distance within the filter."""
    at_s = (at - EPOCH).total_seconds()
    keep = corpus.published <= at_s
    if window is not None:
        keep &= corpus.published >= at_s - window.total_seconds()
    if symbol is not None:
        keep &= np.array([symbol in s for s in corpus.symbols])
    candidates = np.flatnonzero(keep)
    distances = 1.0 - corpus.vectors[candidates].astype(np.float64) @ query.astype(np.float64)
    order = np.lexsort((candidates, distances))[:k]
    return [int(i) + 1 for i in candidates[order]]
