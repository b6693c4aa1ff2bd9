"""Who may write the shared market data: every bar-writing route answers 403 to a plain user
and changes nothing, and works for a data-writer (or an admin)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest
from fastapi.testclient import TestClient

from gateway.main import create_app
from gateway.settings import GatewaySettings, get_gateway_settings
from tests.gateway.conftest import Account
from velocitas.db.accounts import forget_cached_keys, set_role
from velocitas.db.engine import session_scope
from velocitas.domain.roles import Role

SERIES = {"symbol": "BTCUSD", "timeframe": "1m"}
CSV_HEADER = "time,open,high,low,close,volume\n"
ALICE_CSV = (
    CSV_HEADER
    + "2024-01-01T00:00:00Z,42000,42010,41990,42005.5,1.5\n"
    + "2024-01-01T00:01:00Z,42005.5,42006,42000,42001,2\n"
)
# The attack from issue 12: the same bars, the closes moved (and one bar more).
BOB_CSV = (
    CSV_HEADER
    + "2024-01-01T00:00:00Z,42000,42010,1,1,1.5\n"
    + "2024-01-01T00:01:00Z,42005.5,42006,1,1,2\n"
    + "2024-01-01T00:02:00Z,1,1,1,1,1\n"
)
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _closes(url: str) -> list[tuple[object, Decimal]]:
    with psycopg.connect(url) as conn:
        return conn.execute(  # type: ignore[return-value]
            "SELECT opened_at, close FROM bar WHERE symbol = 'BTCUSD' ORDER BY opened_at"
        ).fetchall()


def _upload(client: TestClient, account: Account, body: str) -> object:
    return client.post(
        "/bars",
        params=SERIES,
        content=body,
        headers={**account.headers, "Content-Type": "text/csv"},
    )


def _bar_write_routes() -> list[tuple[str, str]]:
    """Every route that can write bars: today `POST /bars`; a new one is checked here too."""
    return sorted(
        (method.upper(), path)
        for path, operations in create_app().openapi()["paths"].items()
        if path.startswith("/bars")
        for method in operations
        if method.upper() in WRITE_METHODS
    )


def test_bar_write_routes_are_found() -> None:
    assert ("POST", "/bars") in _bar_write_routes()


@pytest.mark.parametrize(("method", "path"), _bar_write_routes())
def test_bar_write_route_refuses_plain_user_with_403_and_changes_nothing(
    method: str,
    path: str,
    client: TestClient,
    writer: Account,
    bob: Account,
    database_url: str,
) -> None:
    assert _upload(client, writer, ALICE_CSV).status_code == 201
    before = _closes(database_url)
    response = client.request(
        method,
        path,
        params=SERIES,
        content=BOB_CSV,
        headers={**bob.headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 403, response.text
    detail = response.json()["detail"]
    assert "'data-writer' or 'admin'" in detail
    assert "velocitas user role bob data-writer" in detail
    assert _closes(database_url) == before


def test_bob_cannot_overwrite_alice_closes(
    client: TestClient, make_account: Callable[..., Account], bob: Account, database_url: str
) -> None:
    # Issue 12's attack: alice uploads a series, bob posts the same symbol with other closes.
    alice = make_account("alice", Role.DATA_WRITER)
    assert _upload(client, alice, ALICE_CSV).status_code == 201
    alices = _closes(database_url)
    assert [close for _, close in alices] == [Decimal("42005.5"), Decimal("42001")]
    refused = _upload(client, bob, BOB_CSV)
    assert refused.status_code == 403
    assert _closes(database_url) == alices


@pytest.mark.parametrize("role", [Role.DATA_WRITER, Role.ADMIN])
def test_data_writer_and_admin_may_overwrite_the_series(
    role: Role, client: TestClient, make_account: Callable[..., Account], database_url: str
) -> None:
    account = make_account(f"curator-{role.value}", role)
    assert _upload(client, account, ALICE_CSV).status_code == 201
    updated = _upload(client, account, BOB_CSV)
    assert updated.status_code == 201, updated.text
    assert (updated.json()["inserted"], updated.json()["updated"]) == (1, 2)
    assert [close for _, close in _closes(database_url)] == [Decimal(1)] * 3


def test_plain_user_is_refused_before_the_body_is_read(
    client: TestClient, bob: Account, database_url: str
) -> None:
    # Over MAX_UPLOAD_BYTES: a route that read the body first would answer 413.
    client.app.dependency_overrides[get_gateway_settings] = lambda: GatewaySettings(  # type: ignore[attr-defined]
        max_upload_bytes=64
    )
    response = _upload(client, bob, ALICE_CSV * 10)
    assert response.status_code == 403
    assert _closes(database_url) == []


def test_role_change_takes_effect_on_the_next_verification(
    client: TestClient, bob: Account, writer: Account, database_url: str
) -> None:
    assert _upload(client, bob, ALICE_CSV).status_code == 403
    with session_scope() as session:
        set_role(session, "bob", Role.DATA_WRITER)
        set_role(session, "writer", Role.USER)
    forget_cached_keys()  # what the verification cache's expiry does in a running gateway
    assert _upload(client, bob, ALICE_CSV).status_code == 201
    assert _upload(client, writer, BOB_CSV).status_code == 403
    assert [close for _, close in _closes(database_url)] == [Decimal("42005.5"), Decimal("42001")]


def test_reads_need_no_role(
    client: TestClient, writer: Account, bob: Account, database_url: str
) -> None:
    client.app.dependency_overrides[get_gateway_settings] = lambda: GatewaySettings(  # type: ignore[attr-defined]
        database_url=database_url
    )
    assert _upload(client, writer, ALICE_CSV).status_code == 201
    history = client.get(
        "/history",
        params={**SERIES, "start": "2024-01-01T00:00:00Z", "end": "2024-01-01T00:02:00Z"},
        headers=bob.headers,
    )
    assert history.status_code == 200, history.text


def test_openapi_documents_403_on_bar_writes() -> None:
    operation = create_app().openapi()["paths"]["/bars"]["post"]
    assert "data-writer" in operation["responses"]["403"]["description"]
