"""user_account.role: who may write the shared market data

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Every existing account becomes a plain `user`: after this upgrade nobody may upload bars over
HTTP until an operator grants `data-writer` (`velocitas user role NAME data-writer`). Failing
closed is the point: before it, any user could overwrite the bars every backtest reads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ROLES = ("user", "data-writer", "admin")  # velocitas.domain.Role when this was written


def upgrade() -> None:
    op.add_column(
        "user_account",
        sa.Column("role", sa.String(length=16), server_default="user", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_user_account_role"),
        "user_account",
        f"role IN ({', '.join(repr(r) for r in ROLES)})",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_user_account_role"), "user_account", type_="check")
    op.drop_column("user_account", "role")
