"""session_event.payload stored uncompressed (STORAGE EXTERNAL)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

A session at speed max journals runs of quiet bars as `bars.closed` events of tens of kB each;
PostgreSQL compressed each (pglz) before storing it out of line, and that compression was the
largest part of the journal's ingest time (COPY 2-3x slower than without it). EXTERNAL keeps
large payloads out of line, uncompressed: more disk, much less CPU. Existing rows are untouched
(the setting applies to values written from now on).
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE session_event ALTER COLUMN payload SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE session_event ALTER COLUMN payload SET STORAGE EXTENDED")
