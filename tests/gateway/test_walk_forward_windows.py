"""`POST /walk-forwards` on daily stock bars: a window shorter than a few bars is a 422 saying
so; calendar months are accepted with the right folds."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.gateway.conftest import Account
from tests.support.stock_bars import goog_daily_table
from velocitas.ingest import import_table
from velocitas.research import walk_forward_spec

REQUEST: dict[str, Any] = {
    "base": {
        "symbol": "GOOG",
        "timeframe": "1d",
        "start": "2005-01-31T00:00:00Z",
        "end": "2008-01-31T00:00:00Z",
        "initial_cash": "10000",
        "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20}},
    },
    "grid": {"fast": [5, 10], "slow": [20, 40]},
    "in_sample": "6mo",
    "out_of_sample": "6mo",
}


def test_create_walk_forward_out_of_sample_in_minutes_on_daily_bars_is_422(
    client: TestClient, alice: Account
) -> None:
    import_table(goog_daily_table(), symbol="GOOG", timeframe="1d")
    response = client.post(
        "/walk-forwards", json=REQUEST | {"out_of_sample": "6m"}, headers=alice.headers
    )
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "out_of_sample"]
    assert "out_of_sample 6m is 6 minutes, shorter than 3 bars of 1d" in problem["msg"]
    assert client.get("/walk-forwards", headers=alice.headers).json()["items"] == []


def test_create_walk_forward_in_calendar_months_is_accepted_with_month_end_folds(
    client: TestClient, alice: Account
) -> None:
    import_table(goog_daily_table(), symbol="GOOG", timeframe="1d")
    response = client.post("/walk-forwards", json=REQUEST, headers=alice.headers)
    assert response.status_code == 202, response.text
    spec = walk_forward_spec.WalkForwardSpec.model_validate(REQUEST)
    folds = walk_forward_spec.plan(spec).folds
    assert [f.out_of_sample_start.date().isoformat() for f in folds] == [
        "2005-07-31",
        "2006-01-31",
        "2006-07-31",
        "2007-01-31",
        "2007-07-31",
    ]
    assert folds[-1].out_of_sample_end.date().isoformat() == "2008-01-31"
