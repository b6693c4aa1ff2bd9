"""`velocitas.db.revision` tells an up-to-date database without alembic, and agrees with it."""

from __future__ import annotations

import psycopg

from velocitas.db import migrate
from velocitas.db.revision import at_head, shipped_head


def test_shipped_head_is_alembic_head() -> None:
    assert (shipped_head(),) == migrate.head_revisions()


def test_a_migrated_database_is_at_head(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert at_head(conn)


def test_a_database_behind_or_empty_is_not_at_head(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
        assert not at_head(conn)
        conn.execute("DROP TABLE alembic_version")
        assert not at_head(conn)
