"""a walk-forward's folds run as child jobs of kind 'fold'

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_NAME = "ck_backtest_job_kind"


def upgrade() -> None:
    op.drop_constraint(op.f(_NAME), "backtest_job", type_="check")
    op.create_check_constraint(
        op.f(_NAME), "backtest_job", "kind IN ('backtest', 'sweep', 'walk_forward', 'fold')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM backtest_job WHERE kind = 'fold'")
    op.drop_constraint(op.f(_NAME), "backtest_job", type_="check")
    op.create_check_constraint(
        op.f(_NAME), "backtest_job", "kind IN ('backtest', 'sweep', 'walk_forward')"
    )
