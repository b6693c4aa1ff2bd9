"""`GET /strategies` and `GET /series`: what the web app builds its forms from."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.gateway.conftest import Account, store_bars
from velocitas.strategies import registry


def test_strategies_need_a_key(client: TestClient) -> None:
    assert client.get("/strategies").status_code == 401


def test_strategies_list_every_registered_strategy_with_typed_bounded_params(
    client: TestClient, alice: Account
) -> None:
    answer = client.get("/strategies", headers=alice.headers)
    assert answer.status_code == 200
    body = answer.json()
    assert [s["name"] for s in body] == registry.names()
    sma = next(s for s in body if s["name"] == "sma_cross")
    fast = next(p for p in sma["params"] if p["name"] == "fast")
    declared = registry.get("sma_cross").Params.model_fields["fast"]
    assert fast["type"] == "integer"
    assert fast["default"] == declared.default
    assert fast["min"] is not None
    assert fast["max"] is not None
    assert fast["min"] < fast["max"]
    assert [p["name"] for p in sma["params"]] == list(registry.get("sma_cross").Params.model_fields)
    assert sma["constraints"]  # fast < slow, as text


def test_strategy_bounds_are_the_ones_a_backtest_enforces(
    client: TestClient, alice: Account
) -> None:
    store_bars()
    sma = next(
        s
        for s in client.get("/strategies", headers=alice.headers).json()
        if s["name"] == "sma_cross"
    )
    fast = next(p for p in sma["params"] if p["name"] == "fast")
    spec = {
        "symbol": "BTCUSDT", "timeframe": "1h", "start": "2024-01-01T00:00:00Z",
        "end": "2024-01-05T00:00:00Z", "initial_cash": "10000",
        "strategy": {"name": "sma_cross", "params": {"fast": int(fast["min"]) - 1, "slow": 20}},
    }  # fmt: skip
    refused = client.post("/backtests", json=spec, headers=alice.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][-1] == "fast"
    spec["strategy"]["params"]["fast"] = int(fast["min"])  # type: ignore[index]
    assert client.post("/backtests", json=spec, headers=alice.headers).status_code == 202


def test_series_list_span_count_and_gaps(client: TestClient, alice: Account) -> None:
    assert client.get("/series", headers=alice.headers).json() == []
    store_bars(n=48)
    store_bars(symbol="ETHUSDT", n=10)
    body = client.get("/series", headers=alice.headers).json()
    assert [(s["symbol"], s["timeframe"], s["bars"]) for s in body] == [
        ("BTCUSDT", "1h", 48),
        ("ETHUSDT", "1h", 10),
    ]
    assert body[0]["first_opened_at"] == "2024-01-01T00:00:00Z"
    assert body[0]["last_opened_at"] == "2024-01-02T23:00:00Z"
    assert (body[0]["missing_bars"], body[0]["gap_count"]) == (0, 0)
