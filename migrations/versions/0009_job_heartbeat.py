"""backtest_job.heartbeat_at: a running job's worker stamps it; the reconciler finds lost ones

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

A worker refreshes `heartbeat_at` while it runs a job; the workers' reconciler queues again a
`running` job whose heartbeat stopped (its worker died). The partial index serves the
reconciler's scans of unfinished jobs without reading the finished ones, which are nearly all.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "backtest_job", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_backtest_job_unfinished",
        "backtest_job",
        ["status", "created_at"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )


def downgrade() -> None:
    op.drop_index("ix_backtest_job_unfinished", table_name="backtest_job")
    op.drop_column("backtest_job", "heartbeat_at")
