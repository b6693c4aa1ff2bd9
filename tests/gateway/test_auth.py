"""API keys: argon2-hashed, shown once, required on every job route."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.gateway.conftest import Account
from velocitas.db import accounts
from velocitas.db.accounts import (
    KeyThrottled,
    argon2_checks,
    authenticate,
    forget_cached_keys,
)
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
        for odd in ("vk_AAAAAAAA_\x00", "vk_AAAAAAAA_\ud800", "vk_AAAAAAAA_" + "A" * 10**6):
            assert authenticate(session, odd) is None  # before any hashing or database query


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


def _other_secret(key: str, n: int) -> str:
    """`key` with its secret replaced: the same prefix, a wrong key."""
    return key[: len("vk_") + 8 + 1] + f"wrong{n:04d}" + key[len("vk_") + 8 + 1 + 9 :]


def _check(key: str) -> object:
    with session_scope() as session:
        try:
            return authenticate(session, key)
        except KeyThrottled as exc:
            return exc


def test_concurrent_checks_of_one_new_key_run_argon2_once(alice: Account) -> None:
    forget_cached_keys()
    before = argon2_checks()
    with ThreadPoolExecutor(max_workers=16) as pool:
        users = list(pool.map(_check, [alice.key] * 32))
    assert {getattr(u, "id", None) for u in users} == {alice.id}
    assert argon2_checks() - before == 1


def test_a_repeated_wrong_key_costs_one_argon2(alice: Account) -> None:
    wrong = _other_secret(alice.key, 1)
    before = argon2_checks()
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(_check, [wrong] * 20)) == {None}
    assert argon2_checks() - before == 1


def test_wrong_secrets_for_a_prefix_are_throttled_while_the_right_key_works(
    alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "_clock", lambda: 1000.0)  # no refill during the test
    forget_cached_keys()
    assert _check(_other_secret(alice.key, 0)) is None
    # Right after a wrong secret, the right key (never verified here) still works at once.
    assert getattr(_check(alice.key), "id", None) == alice.id
    before = argon2_checks()
    answers = [_check(_other_secret(alice.key, n)) for n in range(1, 11)]
    assert answers[:2] == [None, None]  # the prefix's burst of argon2 checks
    assert all(isinstance(a, KeyThrottled) for a in answers[2:])  # then none, until it refills
    assert argon2_checks() - before == 2
    # A key this process verified before is recognised without argon2, throttled or not.
    assert getattr(_check(alice.key), "id", None) == alice.id
    assert argon2_checks() - before == 2


def test_ten_failed_keys_from_a_client_then_429_with_retry_after(
    client: TestClient, alice: Account
) -> None:
    assert client.get("/backtests", headers=alice.headers).status_code == 200
    codes = [
        client.get("/backtests", headers={"Authorization": f"Bearer vk_AAAAAAAA_x{n}"}).status_code
        for n in range(11)
    ]
    assert codes == [401] * 10 + [429]
    refused = client.get("/backtests", headers={"Authorization": "Bearer vk_AAAAAAAA_y"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 5
    # A key already verified is still served: the limit costs the guessing client only.
    assert client.get("/backtests", headers=alice.headers).status_code == 200


def test_a_large_body_without_a_key_is_refused_401_before_it_is_read(
    client: TestClient, alice: Account
) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(64):
            yield b" " * (1 << 20)

    response = client.post(
        "/backtests", content=body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    big = client.post("/backtests", content=body(), headers=alice.headers)
    assert big.status_code == 413
    assert "MAX_BODY_BYTES" in big.json()["detail"]
