"""equity curves stored as chunks of NUMERIC arrays (one row per 4096 points)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CHUNK = 4096


def upgrade() -> None:
    op.create_table(
        "equity_chunk",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.ARRAY(sa.DateTime(timezone=True)), nullable=False),
        sa.Column("equity", sa.ARRAY(sa.Numeric()), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["backtest_job.id"],
            name=op.f("fk_equity_chunk_job_id_backtest_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "chunk", name=op.f("pk_equity_chunk")),
    )
    op.execute(
        "INSERT INTO equity_chunk (job_id, chunk, opened_at, equity)"
        f" SELECT job_id, seq / {_CHUNK}, array_agg(opened_at ORDER BY seq),"
        f" array_agg(equity ORDER BY seq) FROM equity_point GROUP BY job_id, seq / {_CHUNK}"
    )
    op.drop_table("equity_point")


def downgrade() -> None:
    op.create_table(
        "equity_point",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("equity", sa.Numeric(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["backtest_job.id"],
            name=op.f("fk_equity_point_job_id_backtest_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_equity_point")),
    )
    op.execute(
        "INSERT INTO equity_point (job_id, seq, opened_at, equity)"
        f" SELECT c.job_id, c.chunk * {_CHUNK} + p.i - 1, p.opened_at, p.equity"
        " FROM equity_chunk c,"
        " unnest(c.opened_at, c.equity) WITH ORDINALITY AS p(opened_at, equity, i)"
    )
    op.drop_table("equity_chunk")
