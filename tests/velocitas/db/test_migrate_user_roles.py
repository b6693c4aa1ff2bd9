"""Migration 0010 (user_account.role): existing accounts become plain users; the column only
holds a known role; downgrading removes it again."""

from __future__ import annotations

import psycopg
import pytest
from alembic.script import ScriptDirectory

from velocitas.db import migrate
from velocitas.domain.roles import Role

REVISION = "0010"


def _before(url: str) -> str:
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    down = script.get_revision(REVISION).down_revision
    assert isinstance(down, str)
    return down


def _columns(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'user_account'"
        ).fetchall()
    return {name for (name,) in rows}


def test_user_roles_migration_up_makes_existing_users_plain_and_down_drops_role(
    database_url: str,
) -> None:
    migrate.downgrade(_before(database_url), database_url=database_url)
    assert "role" not in _columns(database_url)
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO user_account (id, name) VALUES (gen_random_uuid(), 'old')")

    migrate.upgrade(REVISION, database_url=database_url)
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT role FROM user_account WHERE name = 'old'").fetchone()
    assert row == ("user",)

    migrate.downgrade(_before(database_url), database_url=database_url)
    assert "role" not in _columns(database_url)
    migrate.upgrade("head", database_url=database_url)
    assert "role" in _columns(database_url)


@pytest.mark.parametrize("role", [role.value for role in Role])
def test_user_role_column_accepts_every_role(database_url: str, role: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO user_account (id, name, role) VALUES (gen_random_uuid(), 'u', %s)",
            (role,),
        )


def test_user_role_column_refuses_an_unknown_role(database_url: str) -> None:
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO user_account (id, name, role) VALUES (gen_random_uuid(), 'u', 'root')"
        )
