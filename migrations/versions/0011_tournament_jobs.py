"""tournaments and their entries run as jobs of kinds 'tournament' and 'tournament_entry'

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_NAME = "ck_backtest_job_kind"
_BEFORE = "kind IN ('backtest', 'sweep', 'walk_forward', 'fold')"
_AFTER = "kind IN ('backtest', 'sweep', 'walk_forward', 'fold', 'tournament', 'tournament_entry')"


def upgrade() -> None:
    op.drop_constraint(op.f(_NAME), "backtest_job", type_="check")
    op.create_check_constraint(op.f(_NAME), "backtest_job", _AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM backtest_job WHERE kind IN ('tournament', 'tournament_entry')")
    op.drop_constraint(op.f(_NAME), "backtest_job", type_="check")
    op.create_check_constraint(op.f(_NAME), "backtest_job", _BEFORE)
