"""POST /bars: CSV upload through the import path; 201/200, 422 with row problems, 413."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from gateway.main import create_app
from gateway.settings import GatewaySettings, get_gateway_settings
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.domain.roles import Role

CSV = (
    "time,open,high,low,close,volume\n"
    "2024-01-01T00:00:00Z,42000.12345678,42010,41990,42005.5,1.5\n"
    "2024-01-01T00:01:00Z,42005.5,42006,42000,42001,0\n"
)
PARAMS = {"symbol": "BTCUSD", "timeframe": "1m"}


def _api_key() -> str:
    with session_scope() as session:
        return create_user(session, f"user-{uuid.uuid4().hex[:8]}", Role.DATA_WRITER).api_key


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app()
    app.dependency_overrides[get_gateway_settings] = lambda: GatewaySettings(max_upload_bytes=4096)
    with TestClient(app) as test_client:
        test_client.headers["Authorization"] = f"Bearer {_api_key()}"
        yield test_client


def _post(client: TestClient, body: str | bytes, **params: str) -> object:
    return client.post(
        "/bars", params={**PARAMS, **params}, content=body, headers={"Content-Type": "text/csv"}
    )


def _stored(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT opened_at, open FROM bar ORDER BY opened_at").fetchall()


def test_create_bars_stores_upload_then_reupload_is_200(
    client: TestClient, database_url: str
) -> None:
    first = client.post("/bars", params=PARAMS, content=CSV, headers={"Content-Type": "text/csv"})
    assert first.status_code == 201, first.text
    assert (first.json()["inserted"], first.json()["read"]) == (2, 2)
    assert str(_stored(database_url)[0][1]) == "42000.12345678"
    again = client.post("/bars", params=PARAMS, content=CSV, headers={"Content-Type": "text/csv"})
    assert again.status_code == 200
    assert (again.json()["inserted"], again.json()["unchanged"]) == (0, 2)


def test_create_bars_bad_rows_answer_422_with_row_column_reason(
    client: TestClient, database_url: str
) -> None:
    body = CSV + "2024-01-01T00:02:00Z,42001,42002,41990,42001,-1\n"
    response = client.post(
        "/bars", params=PARAMS, content=body, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 422
    payload = response.json()
    assert payload["invalid_rows"] == 1
    assert {(p["row"], p["column"]) for p in payload["detail"]} == {(3, "volume")}
    assert "volume must be >= 0" in payload["detail"][0]["reason"]
    assert _stored(database_url) == []


def test_create_bars_unknown_timeframe_answers_422_naming_field(client: TestClient) -> None:
    response = client.post(
        "/bars",
        params={**PARAMS, "timeframe": "7m"},
        content=CSV,
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "timeframe"]


def test_create_bars_body_over_limit_answers_413(client: TestClient, database_url: str) -> None:
    body = CSV + "".join(f"2024-01-02T00:{m:02d}:00Z,1,2,1,1.5,1\n" for m in range(60)) * 3
    assert len(body) > 4096
    response = client.post(
        "/bars", params=PARAMS, content=body, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 413
    assert "MAX_UPLOAD_BYTES" in response.json()["detail"]
    assert _stored(database_url) == []


def test_create_bars_multipart_answers_415(client: TestClient) -> None:
    response = client.post("/bars", params=PARAMS, files={"file": ("bars.csv", CSV, "text/csv")})
    assert response.status_code == 415


def test_create_bars_openapi_documents_csv_body_and_errors() -> None:
    operation = create_app().openapi()["paths"]["/bars"]["post"]
    assert {"201", "200", "413", "422"} <= set(operation["responses"])
    assert "text/csv" in operation["requestBody"]["content"]


def test_gateway_settings_read_max_upload_bytes_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "1234")
    assert GatewaySettings().max_upload_bytes == 1234


def test_post_bars_without_a_key_is_401_and_stores_nothing(
    client: TestClient, database_url: str
) -> None:
    response = client.post(
        "/bars",
        params={"symbol": "NOKEY", "timeframe": "1m"},
        content=b"time,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,1,1,1,1\n",
        headers={"Content-Type": "text/csv", "Authorization": ""},
    )
    assert response.status_code == 401
    with psycopg.connect(database_url) as conn:
        (count,) = conn.execute("SELECT count(*) FROM bar WHERE symbol = 'NOKEY'").fetchone()  # type: ignore[misc]
    assert count == 0
