"""bar_data_version: bumped by a trigger on every write to bar, for in-memory bar caches

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21

A statement-level trigger (one bump per statement, not per row: an import of a million rows
pays one UPDATE) keeps the version in the writer's transaction, so a reader's snapshot sees
bars and version together. Any writer is covered: imports, `POST /bars`, psql.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bar_data_version",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_bar_data_version_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bar_data_version")),
    )
    op.execute("INSERT INTO bar_data_version (id, version) VALUES (1, 0)")
    op.execute(
        "CREATE FUNCTION bump_bar_data_version() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN UPDATE bar_data_version SET version = version + 1; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER bar_data_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON bar"
        " FOR EACH STATEMENT EXECUTE FUNCTION bump_bar_data_version()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER bar_data_changed ON bar")
    op.execute("DROP FUNCTION bump_bar_data_version()")
    op.drop_table("bar_data_version")
