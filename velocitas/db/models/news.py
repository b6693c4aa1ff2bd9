"""News articles with their embeddings (pgvector), and the sentiment series derived from them.

The embedding column's dimension is fixed by the schema: `EMBEDDING_DIM` must equal the
configured embedding model's output size (all-MiniLM-L6-v2: 384). Switching to a model of another
size is a schema change: a new migration that drops the HNSW index, re-types the column to
`vector(<new dim>)` (existing vectors cannot be converted; clear them and re-embed), and rebuilds
the index; then `EMBEDDING_DIM` follows. The analyst refuses to start when the two disagree.
"""

from __future__ import annotations

from datetime import datetime

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    Double,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from velocitas.db.models.base import Base
from velocitas.db.news_schema import EMBEDDING_DIM  # here too: the models' readers find it


class News(Base):
    """One article. `url` and (`source`, `headline`) are each unique: the two dedup rules."""

    __tablename__ = "news"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    headline: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, server_default="")
    source: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    symbols: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    embedding: Mapped[list[float]] = mapped_column(Vector(EMBEDDING_DIM))
    ingested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    sentiment_score: Mapped[float | None] = mapped_column(Double, nullable=True)
    """The headline's score in [-1, 1], computed once at ingest; NULL for articles stored
    before scores were kept, until the analyst first reads them."""
    sentiment_method: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        UniqueConstraint("source", "headline", name="uq_news_source_headline"),
        CheckConstraint(
            "sentiment_score >= -1 AND sentiment_score <= 1", name="sentiment_score_range"
        ),
        # Cosine HNSW for unfiltered nearest-neighbour queries (filtered ones are computed exactly).
        Index(
            "ix_news_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_with={"m": 16, "ef_construction": 64},
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
        Index("ix_news_symbols_gin", "symbols", postgresql_using="gin"),
    )


class Sentiment(Base):
    """The sentiment of `symbol` as of instant `at` (a bar's close), for bars of `timeframe`.

    `score` lies in [-1, 1]; `n_docs` counts the articles combined (0: no news, score 0).
    """

    __tablename__ = "sentiment"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(8), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    score: Mapped[float] = mapped_column(Double)
    n_docs: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(64))

    __table_args__ = (CheckConstraint("score >= -1 AND score <= 1", name="score_range"),)
