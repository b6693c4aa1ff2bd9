"""news.sentiment_score and news.sentiment_method: each article scored once, at ingest

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

Articles stored before this revision have no score (NULL): scoring needs the analyst's scorer
(VADER and the finance lexicon, or the configured LLM), which migrations do not import. The
analyst scores such articles the first time a query reads them (`GET /news/moves`) and stores
the score, so each article is still scored once (docs/analyst.md, "News-tagged moves").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("news", sa.Column("sentiment_score", sa.Double(), nullable=True))
    op.add_column("news", sa.Column("sentiment_method", sa.String(length=64), nullable=True))
    op.create_check_constraint(
        op.f("ck_news_sentiment_score_range"),
        "news",
        "sentiment_score >= -1 AND sentiment_score <= 1",
    )
    # `GET /news/moves` reads articles of one symbol in a time range: the GIN index on symbols
    # and the btree on published_at serve it.


def downgrade() -> None:
    op.drop_constraint(op.f("ck_news_sentiment_score_range"), "news", type_="check")
    op.drop_column("news", "sentiment_method")
    op.drop_column("news", "sentiment_score")
