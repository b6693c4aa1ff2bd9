"""equity chunks stored uncompressed (STORAGE EXTERNAL)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21

pglz-compressing each 4096-point NUMERIC[] and TIMESTAMPTZ[] array was most of the server's
cost of storing a result (about 80 of 105 ms for a 100,000-bar curve, measured), CPU that the
database shares with the workers. Out of line and uncompressed, the arrays take more disk and
far less CPU. Existing rows keep their form until rewritten.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE equity_chunk ALTER COLUMN opened_at SET STORAGE EXTERNAL,"
        " ALTER COLUMN equity SET STORAGE EXTERNAL"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE equity_chunk ALTER COLUMN opened_at SET STORAGE EXTENDED,"
        " ALTER COLUMN equity SET STORAGE EXTENDED"
    )
