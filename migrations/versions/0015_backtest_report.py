"""backtest_report: a finished backtest's self-contained HTML report, gzip-compressed

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

The bytes are stored as the gateway serves them (already gzip), so PostgreSQL's own TOAST
compression would only burn CPU: the column is `STORAGE EXTERNAL`, like the equity arrays.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backtest_report",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("html_gzip", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["backtest_job.id"],
            name=op.f("fk_backtest_report_job_id_backtest_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_backtest_report")),
    )
    op.execute("ALTER TABLE backtest_report ALTER COLUMN html_gzip SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("backtest_report")
