"""model registry (lab policy bundles)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model",
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("feature_spec_hash", sa.String(length=64), nullable=False),
        sa.Column("data_snapshot_hash", sa.String(length=64), nullable=False),
        sa.Column("train_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("train_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("validate_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("validate_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "metrics",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("stage", sa.String(length=16), server_default="candidate", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("stage IN ('candidate', 'production')", name=op.f("ck_model_stage")),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_model")),
    )
    op.create_index(
        "uq_model_one_production",
        "model",
        ["stage"],
        unique=True,
        postgresql_where=sa.text("stage = 'production'"),
    )
    op.create_index(
        "ix_model_symbol_timeframe_created_at",
        "model",
        ["symbol", "timeframe", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_model_symbol_timeframe_created_at", table_name="model")
    op.drop_index("uq_model_one_production", table_name="model")
    op.drop_table("model")
