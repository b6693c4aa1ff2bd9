"""GET /history against the real database: exact strings, newest-N, 404 and 422 bodies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from gateway.main import create_app
from gateway.settings import GatewaySettings, get_gateway_settings
from tests.velocitas.db.bar_rows import T0, insert_bars, random_rows
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope

MINUTE = timedelta(minutes=1)


def _api_key() -> str:
    with session_scope() as session:
        return create_user(session, f"user-{uuid.uuid4().hex[:8]}").api_key


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app()
    app.dependency_overrides[get_gateway_settings] = lambda: GatewaySettings(
        database_url=database_url
    )
    with TestClient(app) as test_client:
        test_client.headers["Authorization"] = f"Bearer {_api_key()}"
        yield test_client


def test_read_history_prices_are_exact_decimal_strings(
    client: TestClient, database_url: str
) -> None:
    rows = random_rows(3)
    rows.append(
        (
            T0 + 3 * MINUTE,
            Decimal("0.00000001"),
            Decimal("123456789.12345678"),
            Decimal("0E-8"),
            Decimal("0.10000000"),
            Decimal("98765432109876.54321098"),
        )
    )
    insert_bars(database_url, "BTCUSDT", "1m", rows)

    response = client.get("/history", params={"symbol": "BTCUSDT", "timeframe": "1m"})

    assert response.status_code == 200
    body = response.json()
    assert body["symbol"] == "BTCUSDT"
    assert body["timeframe"] == "1m"
    assert body["candles"][-1] == {
        "opened_at": "2024-03-01T00:03:00Z",
        "open": "0.00000001",
        "high": "123456789.12345678",
        "low": "0.00000000",
        "close": "0.10000000",
        "volume": "98765432109876.54321098",
    }
    for candle, row in zip(body["candles"], rows, strict=True):
        assert [Decimal(candle[k]) for k in ("open", "high", "low", "close", "volume")] == list(
            row[1:]
        )
    assert '"open":"0.00000001"' in response.text  # a string in the JSON, not a number


def test_read_history_without_start_gives_the_newest_limit_in_ascending_order(
    client: TestClient, database_url: str
) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(20))

    newest = client.get("/history", params={"symbol": "BTCUSDT", "timeframe": "1m", "limit": 3})
    before = client.get(
        "/history",
        params={
            "symbol": "BTCUSDT",
            "timeframe": "1m",
            "end": "2024-03-01T00:05:00Z",
            "limit": 2,
        },
    )

    assert [c["opened_at"] for c in newest.json()["candles"]] == [
        "2024-03-01T00:17:00Z",
        "2024-03-01T00:18:00Z",
        "2024-03-01T00:19:00Z",
    ]
    assert [c["opened_at"] for c in before.json()["candles"]] == [
        "2024-03-01T00:03:00Z",
        "2024-03-01T00:04:00Z",
    ]


def test_read_history_with_start_gives_the_first_limit_from_start(
    client: TestClient, database_url: str
) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(20))
    response = client.get(
        "/history",
        params={
            "symbol": "BTCUSDT",
            "timeframe": "1m",
            "start": "2024-03-01T01:02:00+01:00",  # 00:02Z, any offset works
            "limit": 2,
        },
    )
    naive = client.get(
        "/history",
        params={"symbol": "BTCUSDT", "timeframe": "1m", "start": "2024-03-01T00:02:00", "limit": 2},
    )
    assert [c["opened_at"] for c in response.json()["candles"]] == [
        "2024-03-01T00:02:00Z",
        "2024-03-01T00:03:00Z",
    ]
    assert naive.json() == response.json()  # no offset: UTC


def test_read_history_default_limit_is_500(client: TestClient, database_url: str) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(600))
    candles = client.get("/history", params={"symbol": "BTCUSDT", "timeframe": "1m"}).json()
    assert len(candles["candles"]) == 500
    assert candles["candles"][-1]["opened_at"] == "2024-03-01T09:59:00Z"


def test_read_history_derived_timeframe_is_exact(client: TestClient, database_url: str) -> None:
    rows = random_rows(120)
    insert_bars(database_url, "BTCUSDT", "1m", rows)
    body = client.get("/history", params={"symbol": "BTCUSDT", "timeframe": "1h"}).json()
    assert [c["opened_at"] for c in body["candles"]] == [
        "2024-03-01T00:00:00Z",
        "2024-03-01T01:00:00Z",
    ]
    assert Decimal(body["candles"][1]["volume"]) == sum(r[5] for r in rows[60:])


def test_read_history_unknown_symbol_is_404_listing_what_exists(
    client: TestClient, database_url: str
) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(2))
    insert_bars(database_url, "BTCUSDT", "1d", random_rows(2, step=timedelta(days=1)))
    insert_bars(database_url, "ETHUSDT", "1h", random_rows(2, step=timedelta(hours=1)))

    unknown = client.get("/history", params={"symbol": "DOGEUSDT", "timeframe": "1m"})
    underivable = client.get("/history", params={"symbol": "ETHUSDT", "timeframe": "5m"})

    assert unknown.status_code == 404
    assert unknown.json()["detail"]["available"] == [
        {"symbol": "BTCUSDT", "timeframes": ["1d", "1m"]},
        {"symbol": "ETHUSDT", "timeframes": ["1h"]},
    ]
    assert "DOGEUSDT" in unknown.json()["detail"]["message"]
    assert underivable.status_code == 404


def test_read_history_empty_range_of_a_known_series_is_200(
    client: TestClient, database_url: str
) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(2))
    response = client.get(
        "/history",
        params={"symbol": "BTCUSDT", "timeframe": "1m", "start": "2030-01-01T00:00:00Z"},
    )
    assert response.status_code == 200
    assert response.json()["candles"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"timeframe": "7m"}, "timeframe"),
        ({"start": "yesterday-ish"}, "start"),
        ({"end": "2024-13-01T00:00:00Z"}, "end"),
        ({"start": "2024-03-01T00:05:00Z", "end": "2024-03-01T00:05:00Z"}, "end"),
        ({"start": "2024-03-01T00:06:00Z", "end": "2024-03-01T00:05:00Z"}, "end"),
        ({"limit": "5001"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"symbol": ""}, "symbol"),
        ({"symbol": "\x00"}, "symbol"),
        ({"symbol": "BTC USDT"}, "symbol"),
    ],
)
def test_read_history_bad_parameter_is_422_naming_the_field(
    client: TestClient, database_url: str, params: dict[str, str], field: str
) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(2))
    query = {"symbol": "BTCUSDT", "timeframe": "1m", **params}

    response = client.get("/history", params=query)

    assert response.status_code == 422
    problems = response.json()["detail"]
    assert [p["loc"] for p in problems] == [["query", field]]
    assert problems[0]["msg"]


def test_read_history_openapi_declares_404_and_422(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/history"]["get"]
    assert {"200", "404", "422"} <= set(operation["responses"])
    assert operation["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "HistoryNotFound"
    )


def test_read_history_symbol_is_data_not_sql(client: TestClient, database_url: str) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(2))
    hostile = "X'; DROP TABLE bar; --"
    response = client.get("/history", params={"symbol": hostile, "timeframe": "1m"})
    assert response.status_code == 422  # not a symbol the importer could have stored
    still_there = client.get("/history", params={"symbol": "BTCUSDT", "timeframe": "1m"})
    assert len(still_there.json()["candles"]) == 2


def test_read_history_without_a_key_is_401(client: TestClient) -> None:
    response = client.get(
        "/history", params={"symbol": "BTCUSD", "timeframe": "1m"}, headers={"Authorization": ""}
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
