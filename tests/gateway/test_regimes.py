"""GET /regimes and /regimes/series on stored bars: point-in-time, consistent, 422 by field."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.gateway.conftest import Account
from velocitas.domain.timeframe import Timeframe
from velocitas.ingest import import_bars
from velocitas.research.regimes import Regime, classify_regimes
from velocitas.synth import DEFAULT_START, TREND_REGIMES, synth_bars, write_csv

BARS = 700
HOUR = timedelta(hours=1)


@pytest.fixture
def closes(platform_env: str, tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """700 hourly BTCUSD bars with planted regimes; returns (high, low, close) stacked."""
    table = synth_bars(BARS, Timeframe.H1, seed=3, regimes=TREND_REGIMES, mean_regime_bars=150)
    path = tmp_path_factory.mktemp("regimes") / "bars.csv"
    write_csv(table, path)
    import_bars(path, symbol="BTCUSD", timeframe="1h")
    return np.array(
        [[float(x) for x in table.column(c).to_pylist()] for c in ("high", "low", "close")]
    )


def test_read_regime_is_the_classifier_on_the_closed_bars(
    client: TestClient, alice: Account, closes: np.ndarray
) -> None:
    found = classify_regimes(*closes)
    for k in (150, 400, BARS - 1):
        at = DEFAULT_START + (k + 1) * HOUR  # bar k has just closed
        body = client.get(
            "/regimes",
            params={"symbol": "BTCUSD", "timeframe": "1h", "at": at.isoformat()},
            headers=alice.headers,
        ).json()
        assert body["opened_at"] == (DEFAULT_START + k * HOUR).isoformat().replace("+00:00", "Z")
        assert body["regime"] == Regime(int(found.labels[k])).label
        assert body["confidence"] == pytest.approx(found.confidence[k], abs=1e-6)
        assert body["measures"]["adx"] == pytest.approx(found.adx[k], abs=1e-6)
        # half an hour into bar k + 1, that bar has not closed: the answer is still bar k's
        later = client.get(
            "/regimes",
            params={"symbol": "BTCUSD", "timeframe": "1h", "at": (at + HOUR / 2).isoformat()},
            headers=alice.headers,
        ).json()
        assert later == {**body, "at": later["at"]}


def test_read_regime_series_agrees_with_each_instant(
    client: TestClient, alice: Account, closes: np.ndarray
) -> None:
    start, end = DEFAULT_START + 80 * HOUR, DEFAULT_START + 300 * HOUR
    response = client.get(
        "/regimes/series",
        params={
            "symbol": "BTCUSD",
            "timeframe": "1h",
            "start": start.isoformat(),
            "end": end.isoformat(),
        },
        headers=alice.headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body["regime"]) == 220
    found = classify_regimes(*closes)
    assert body["regime"] == [Regime(int(x)).label for x in found.labels[80:300]]
    one = client.get(
        "/regimes",
        params={"symbol": "BTCUSD", "timeframe": "1h", "at": (start + 51 * HOUR).isoformat()},
        headers=alice.headers,
    ).json()
    assert (one["regime"], one["confidence"]) == (body["regime"][50], body["confidence"][50])
    assert (
        "unknown"
        in client.get(
            "/regimes/series",
            params={
                "symbol": "BTCUSD",
                "timeframe": "1h",
                "start": DEFAULT_START.isoformat(),
                "end": end.isoformat(),
            },
            headers=alice.headers,
        ).json()["regime"][:5]
    )


@pytest.mark.parametrize(
    ("route", "params", "field"),
    [
        ("/regimes", {"symbol": "ETHUSD", "timeframe": "1h", "at": "2024-02-01T00:00Z"}, "symbol"),
        ("/regimes", {"symbol": "BTCUSD", "timeframe": "1h", "at": "2023-02-01T00:00Z"}, "at"),
        (
            "/regimes",
            {"symbol": "BTCUSD", "timeframe": "2h", "at": "2024-02-01T00:00Z"},
            "timeframe",
        ),
        ("/regimes", {"symbol": "BTCUSD", "timeframe": "1h"}, "at"),
        ("/regimes", {"symbol": "BTCUSD", "timeframe": "1h", "at": "0001-01-01T00:00Z"}, "at"),
        (
            "/regimes/series",
            {"symbol": "BTCUSD", "timeframe": "1h", "start": "2024-02-01", "end": "2024-01-05"},
            "end",
        ),
        (
            "/regimes/series",
            {"symbol": "BTCUSD", "timeframe": "1h", "start": "2025-02-01", "end": "2025-03-01"},
            "start",
        ),
    ],
)
def test_regimes_refuse_bad_queries_naming_the_field(
    client: TestClient,
    alice: Account,
    closes: np.ndarray,
    route: str,
    params: dict[str, str],
    field: str,
) -> None:
    response = client.get(route, params=params, headers=alice.headers)
    assert response.status_code == 422
    assert [p["loc"] for p in response.json()["detail"]] == [["query", field]]


def test_regimes_need_a_key(client: TestClient) -> None:
    response = client.get(
        "/regimes", params={"symbol": "BTCUSD", "timeframe": "1h", "at": "2024-02-01T00:00Z"}
    )
    assert response.status_code == 401


def test_regimes_take_instants_far_from_any_bar(
    client: TestClient, alice: Account, closes: np.ndarray
) -> None:
    query = {"symbol": "BTCUSD", "timeframe": "1h"}
    latest = client.get(
        "/regimes", params=query | {"at": "8999-01-01T00:00Z"}, headers=alice.headers
    )
    assert latest.status_code == 200, latest.text
    last = DEFAULT_START + (BARS - 1) * HOUR
    assert latest.json()["opened_at"] == last.isoformat().replace("+00:00", "Z")
    span = {"start": "1000-01-01T00:00Z", "end": "8999-01-01T00:00Z"}
    series = client.get("/regimes/series", params=query | span, headers=alice.headers)
    assert series.status_code == 200, series.text
    assert len(series.json()["regime"]) == BARS
    early = client.get(
        "/regimes", params=query | {"at": "1200-01-01T00:00Z"}, headers=alice.headers
    )
    assert [p["loc"] for p in early.json()["detail"]] == [["query", "at"]]
