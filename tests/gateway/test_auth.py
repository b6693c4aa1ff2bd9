"""API keys: argon2-hashed, shown once, required on every job route."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.gateway.conftest import Account
from velocitas.db.accounts import authenticate, forget_cached_keys
from velocitas.db.engine import session_scope
from velocitas.db.models import ApiKey


def test_api_key_is_stored_only_as_argon2_hash(alice: Account) -> None:
    with session_scope() as session:
        stored = session.execute(select(ApiKey).where(ApiKey.user_id == alice.id)).scalar_one()
    assert stored.key_hash.startswith("$argon2id$")
    assert alice.key not in stored.key_hash
    assert stored.prefix in alice.key


def test_authenticate_accepts_own_key_and_rejects_tampered_key(alice: Account) -> None:
    with session_scope() as session:
        user = authenticate(session, alice.key)
        assert user is not None
        assert user.id == alice.id
        forget_cached_keys()
        assert (
            authenticate(session, alice.key[:-1] + ("A" if alice.key[-1] != "A" else "B")) is None
        )
        assert authenticate(session, "vk_nonsense") is None
        assert authenticate(session, "") is None


def test_authenticate_records_last_use(alice: Account) -> None:
    with session_scope() as session:
        authenticate(session, alice.key)
    with session_scope() as session:
        stored = session.execute(select(ApiKey).where(ApiKey.user_id == alice.id)).scalar_one()
    assert stored.last_used_at is not None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer vk_AAAAAAAA_not-a-real-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
    ],
    ids=["missing", "unknown-key", "wrong-scheme", "empty"],
)
def test_job_routes_without_valid_key_answer_401_with_challenge(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.get("/backtests", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_job_routes_with_valid_key_answer(client: TestClient, alice: Account) -> None:
    response = client.get("/backtests", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}
