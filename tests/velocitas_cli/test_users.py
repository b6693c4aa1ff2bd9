"""`velocitas user create`: prints a working key once; duplicates and bad names refused."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from velocitas.db.accounts import authenticate
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
