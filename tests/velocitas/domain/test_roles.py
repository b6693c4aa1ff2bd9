"""Roles grant every right of the roles before them: user < data-writer < admin."""

from __future__ import annotations

import pytest

from velocitas.domain.roles import Role


@pytest.mark.parametrize(
    ("role", "needed", "granted"),
    [
        (Role.USER, Role.USER, True),
        (Role.USER, Role.DATA_WRITER, False),
        (Role.USER, Role.ADMIN, False),
        (Role.DATA_WRITER, Role.USER, True),
        (Role.DATA_WRITER, Role.DATA_WRITER, True),
        (Role.DATA_WRITER, Role.ADMIN, False),
        (Role.ADMIN, Role.DATA_WRITER, True),
        (Role.ADMIN, Role.ADMIN, True),
    ],
)
def test_role_grants(role: Role, needed: Role, granted: bool) -> None:
    assert role.grants(needed) is granted


def test_role_values_are_what_the_cli_and_the_database_spell() -> None:
    assert [role.value for role in Role] == ["user", "data-writer", "admin"]
