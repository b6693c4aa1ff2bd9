"""Persistence of news: the only module that writes the `news` table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from analyst.records import NewsRecord
from analyst.scorers import ArticleScorer
from velocitas import embedded
from velocitas.db.urls import libpq_url
from velocitas.settings import Settings

INSERT_NEWS = """
INSERT INTO news (url, headline, body, source, published_at, symbols, embedding,
                  sentiment_score, sentiment_method)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
RETURNING id
"""


def connect(settings: Settings | None = None) -> psycopg.Connection:
    """A psycopg connection with pgvector's types registered (vectors travel as numpy, binary)."""
    conn = psycopg.connect(libpq_url(embedded.database_url(settings)))
    register_vector(conn)
    return conn


def known_records(conn: psycopg.Connection, records: Sequence[NewsRecord]) -> set[int]:
    """Indexes of `records` already stored, by url or by (source, headline)."""
    if not records:
        return set()
    urls = [r.url for r in records]
    sources = [r.source for r in records]
    headlines = [r.headline for r in records]
    rows = conn.execute(
        """
        SELECT url, source, headline FROM news
        WHERE url = ANY(%s)
           OR (source, headline) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
        """,
        (urls, sources, headlines),
    ).fetchall()
    stored_urls = {row[0] for row in rows}
    stored_pairs = {(row[1], row[2]) for row in rows}
    return {
        i
        for i, r in enumerate(records)
        if r.url in stored_urls or (r.source, r.headline) in stored_pairs
    }


def insert_news(
    conn: psycopg.Connection,
    records: Sequence[NewsRecord],
    vectors: np.ndarray,
    *,
    scores: Sequence[float] | None = None,
    method: str | None = None,
) -> int:
    """Insert in the caller's transaction; rows that collide with stored ones are skipped.
    `scores` (by `method`) are the headlines' sentiment; without them the articles are stored
    unscored, and scored when first read (`score_unscored`).

    Returns how many rows were inserted.
    """
    kept = [None] * len(records) if scores is None else list(scores)
    rows = [
        (
            r.url,
            r.headline,
            r.body,
            r.source,
            r.published_at,
            list(r.symbols),
            vector,
            score,
            None if score is None else method,
        )
        for r, vector, score in zip(records, vectors, kept, strict=True)
    ]
    if not rows:
        return 0
    inserted = 0
    with conn.cursor() as cursor:
        # executemany pipelines the statements; RETURNING tells which ones inserted a row.
        cursor.executemany(INSERT_NEWS, rows, returning=True)
        while True:
            inserted += len(cursor.fetchall())
            if not cursor.nextset():
                break
    return inserted


def count_news(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM news").fetchone()
    return int(row[0]) if row else 0


def score_unscored(
    conn: psycopg.Connection, articles: Mapping[int, str], scorer: ArticleScorer
) -> dict[int, float]:
    """Score the headlines of `articles` (id -> headline) stored without a score, store the
    scores (in the caller's transaction), and return them. An article scored meanwhile by
    another process keeps its score."""
    if not articles:
        return {}
    ids = list(articles)
    values = scorer.score_texts([articles[i] for i in ids])
    with conn.cursor() as cursor:
        cursor.executemany(
            "UPDATE news SET sentiment_score = %s, sentiment_method = %s "
            "WHERE id = %s AND sentiment_score IS NULL",
            [(value, scorer.method, id_) for id_, value in zip(ids, values, strict=True)],
        )
    return dict(zip(ids, values, strict=True))
