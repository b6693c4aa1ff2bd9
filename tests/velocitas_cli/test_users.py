"""`velocitas user create` and `user role`: a working key printed once, with its role;
duplicates, bad names, unknown roles and unknown users refused."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from velocitas.db.accounts import authenticate, forget_cached_keys
from velocitas.db.engine import session_scope
from velocitas_cli.main import app

runner = CliRunner()


def test_user_create_json_prints_a_key_that_authenticates(database_url: str) -> None:
    result = runner.invoke(app, ["user", "create", "dana", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["name"] == "dana"
    with session_scope() as session:
        user = authenticate(session, created["api_key"])
    assert user is not None
    assert str(user.id) == created["id"]


def test_user_create_twice_same_name_fails(database_url: str) -> None:
    assert runner.invoke(app, ["user", "create", "dana"]).exit_code == 0
    again = runner.invoke(app, ["user", "create", "dana"])
    assert again.exit_code != 0
    assert "already exists" in again.output


def test_user_create_blank_name_exits_2(database_url: str) -> None:
    result = runner.invoke(app, ["user", "create", "   "])
    assert result.exit_code == 2


def _role_of(key: str) -> str:
    forget_cached_keys()
    with session_scope() as session:
        user = authenticate(session, key)
    assert user is not None
    return user.role.value


def test_user_create_is_a_plain_user_by_default(database_url: str) -> None:
    result = runner.invoke(app, ["user", "create", "erin", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["role"] == "user"
    assert _role_of(created["api_key"]) == "user"


def test_user_create_with_role_data_writer(database_url: str) -> None:
    result = runner.invoke(app, ["user", "create", "feed", "--role", "data-writer", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["role"] == "data-writer"
    assert _role_of(created["api_key"]) == "data-writer"


def test_user_create_unknown_role_exits_2_and_creates_nobody(database_url: str) -> None:
    result = runner.invoke(app, ["user", "create", "mallory", "--role", "root"])
    assert result.exit_code == 2
    assert "root" in result.output
    assert runner.invoke(app, ["user", "role", "mallory", "user"]).exit_code == 3


def test_user_role_changes_the_role_a_key_authenticates_with(database_url: str) -> None:
    created = json.loads(runner.invoke(app, ["user", "create", "gus", "--json"]).stdout)
    promoted = runner.invoke(app, ["user", "role", "gus", "data-writer", "--json"])
    assert promoted.exit_code == 0, promoted.output
    assert json.loads(promoted.stdout) == {
        "id": created["id"],
        "name": "gus",
        "role": "data-writer",
    }
    assert _role_of(created["api_key"]) == "data-writer"
    demoted = runner.invoke(app, ["user", "role", "gus", "user"])
    assert demoted.exit_code == 0, demoted.output
    assert "now has role user" in demoted.output
    assert _role_of(created["api_key"]) == "user"


def test_user_role_of_unknown_user_exits_3(database_url: str) -> None:
    result = runner.invoke(app, ["user", "role", "nobody", "admin"])
    assert result.exit_code == 3
    assert "no user named 'nobody'" in result.output
