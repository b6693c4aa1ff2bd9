"""trading_session, session_event, session_order: trading sessions, their journal and orders

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

The journal's primary key (session_id, seq) makes a sequence number unique per session, so two
traders that both believe they hold a session's lease cannot both append event n.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SESSION_STATES = ("created", "running", "paused", "stopped", "killed", "finished", "failed")
ORDER_STATES = ("new", "accepted", "filled", "cancelled", "rejected", "expired")
ORDER_ORIGINS = ("strategy", "manual")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "trading_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("clock", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bars_done", sa.Integer(), nullable=False),
        sa.Column("bars_total", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("trader_id", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_one_of("state", SESSION_STATES), name=op.f("ck_trading_session_state")),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_trading_session_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_session")),
    )
    op.create_index(
        "ix_trading_session_owner_created", "trading_session", ["owner_id", "created_at", "id"]
    )
    op.create_index(
        "ix_trading_session_state_lease", "trading_session", ["state", "lease_expires_at"]
    )
    op.create_table(
        "session_event",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("version", sa.SmallInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["trading_session.id"],
            name=op.f("fk_session_event_session_id_trading_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "seq", name=op.f("pk_session_event")),
    )
    op.create_index("ix_session_event_type", "session_event", ["session_id", "type", "seq"])
    op.create_table(
        "session_order",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=True),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("leg", sa.Integer(), nullable=True),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("limit_price", sa.Numeric(), nullable=True),
        sa.Column("stop_loss", sa.Numeric(), nullable=True),
        sa.Column("take_profit", sa.Numeric(), nullable=True),
        sa.Column("trailing_stop", sa.Numeric(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("filled_price", sa.Numeric(), nullable=True),
        sa.Column("fee", sa.Numeric(), nullable=True),
        sa.Column("filled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_one_of("status", ORDER_STATES), name=op.f("ck_session_order_status")),
        sa.CheckConstraint(_one_of("origin", ORDER_ORIGINS), name=op.f("ck_session_order_origin")),
        sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f("ck_session_order_side")),
        sa.CheckConstraint("type IN ('market', 'limit')", name=op.f("ck_session_order_type")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_session_order_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["trading_session.id"],
            name=op.f("fk_session_order_session_id_trading_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_order")),
        sa.UniqueConstraint(
            "session_id", "client_order_id", name=op.f("uq_session_order_client_id")
        ),
    )
    op.create_index(
        "ix_session_order_session_created", "session_order", ["session_id", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_table("session_order")
    op.drop_table("session_event")
    op.drop_table("trading_session")
