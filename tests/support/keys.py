"""API keys for tests of the services that check them (gateway, oracle, analyst)."""

from __future__ import annotations

import uuid

from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.domain.roles import Role

__all__ = ["UNCHECKABLE_KEY", "new_key_headers"]

UNCHECKABLE_KEY = {"Authorization": "Bearer vk_abcdefgh_" + "x" * 43}
"""A well-formed key that no database holds: a service must ask its database to refuse it."""


def new_key_headers(name: str | None = None, role: Role = Role.USER) -> dict[str, str]:
    """`Authorization` headers with the key of a new user (with `role`) in `DATABASE_URL`'s
    database."""
    with session_scope() as session:
        created = create_user(session, name or f"user-{uuid.uuid4().hex[:8]}", role=role)
    return {"Authorization": f"Bearer {created.api_key}"}
