"""news (with pgvector embeddings and an HNSW index) and sentiment

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

The embedding dimension (384) is the default model's. A model of another size needs a new
migration: drop `ix_news_embedding_hnsw`, `ALTER TABLE news ALTER COLUMN embedding TYPE
vector(<dim>)` after clearing the vectors (they cannot be converted), re-embed, recreate the index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "news",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("headline", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), server_default="", nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "symbols",
            postgresql.ARRAY(sa.String(length=32)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("embedding", Vector(384), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news")),
        sa.UniqueConstraint("source", "headline", name="uq_news_source_headline"),
        sa.UniqueConstraint("url", name=op.f("uq_news_url")),
    )
    op.create_index(op.f("ix_news_published_at"), "news", ["published_at"], unique=False)
    op.create_index(
        "ix_news_symbols_gin", "news", ["symbols"], unique=False, postgresql_using="gin"
    )
    op.create_index(
        "ix_news_embedding_hnsw",
        "news",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_with={"m": 16, "ef_construction": 64},
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_table(
        "sentiment",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("n_docs", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.CheckConstraint("score >= -1 AND score <= 1", name=op.f("ck_sentiment_score_range")),
        sa.PrimaryKeyConstraint("symbol", "timeframe", "at", name=op.f("pk_sentiment")),
    )


def downgrade() -> None:
    op.drop_table("sentiment")
    op.drop_index("ix_news_embedding_hnsw", table_name="news")
    op.drop_index("ix_news_symbols_gin", table_name="news")
    op.drop_index(op.f("ix_news_published_at"), table_name="news")
    op.drop_table("news")
