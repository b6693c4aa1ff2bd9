"""alert_rule and alert: copilot rules and the alerts they raised

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

One alert per rule and bar (or per rule and job, for `job_failed` rules): the two unique
constraints make evaluating the same bars twice a no-op.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

RULE_KINDS = ("signal", "regime", "cross", "sentiment", "job_failed")
DELIVERY_STATES = ("pending", "delivered", "failed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "alert_rule",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=True),
        sa.Column("timeframe", sa.String(length=8), nullable=True),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(_one_of("kind", RULE_KINDS), name=op.f("ck_alert_rule_kind")),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_alert_rule_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rule")),
    )
    op.create_index("ix_alert_rule_series", "alert_rule", ["symbol", "timeframe"])
    op.create_index("ix_alert_rule_owner_created", "alert_rule", ["owner_id", "created_at", "id"])
    op.create_table(
        "alert",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=True),
        sa.Column("timeframe", sa.String(length=8), nullable=True),
        sa.Column("bar_opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "raised_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivery", sa.String(length=16), nullable=True),
        sa.Column("delivery_attempts", sa.Integer(), nullable=False),
        sa.Column("delivery_error", sa.Text(), nullable=True),
        sa.CheckConstraint(_one_of("delivery", DELIVERY_STATES), name=op.f("ck_alert_delivery")),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["alert_rule.id"],
            name=op.f("fk_alert_rule_id_alert_rule"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_alert_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
        sa.UniqueConstraint("rule_id", "bar_opened_at", name="uq_alert_rule_bar"),
        sa.UniqueConstraint("rule_id", "job_id", name="uq_alert_rule_job"),
    )
    op.create_index("ix_alert_owner_raised", "alert", ["owner_id", "raised_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_alert_owner_raised", table_name="alert")
    op.drop_table("alert")
    op.drop_index("ix_alert_rule_owner_created", table_name="alert_rule")
    op.drop_index("ix_alert_rule_series", table_name="alert_rule")
    op.drop_table("alert_rule")
