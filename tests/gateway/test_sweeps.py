"""`/sweeps` requests: the objective dialect, and the deprecated `rank_by`/`descending` mapped
onto it for one release."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.gateway.conftest import Account, store_bars
from tests.gateway.test_backtests import SPEC

GRID = {"fast": [3, 5], "slow": [20, 30]}


def _stored_spec(client: TestClient, alice: Account, request: dict[str, Any]) -> dict[str, Any]:
    accepted = client.post("/sweeps", json=request, headers=alice.headers)
    assert accepted.status_code == 202, accepted.json()
    job = client.get(accepted.headers["Location"], headers=alice.headers).json()
    return dict(job["spec"])


def test_create_sweep_with_deprecated_fields_stores_the_same_objective(
    client: TestClient, alice: Account
) -> None:
    store_bars()
    old = _stored_spec(
        client,
        alice,
        {"base": SPEC, "grid": GRID, "rank_by": "max_drawdown", "descending": False},
    )
    new = _stored_spec(
        client,
        alice,
        {"base": SPEC, "grid": GRID, "objective": "max_drawdown", "direction": "minimize"},
    )
    assert old == new  # so the sweeps rank their runs alike
    assert (new["objective"], new["direction"]) == ("max_drawdown", "minimize")
    assert "rank_by" not in new
    assert _stored_spec(client, alice, {"base": SPEC, "grid": GRID})["objective"] == "sharpe"


def test_create_sweep_with_a_field_under_both_names_is_422(
    client: TestClient, alice: Account
) -> None:
    store_bars()
    request = {"base": SPEC, "grid": GRID, "rank_by": "sharpe", "objective": "sortino"}
    response = client.post("/sweeps", json=request, headers=alice.headers)
    assert response.status_code == 422
    assert "rank_by" in response.json()["detail"][0]["msg"]
    assert client.get("/sweeps", headers=alice.headers).json()["items"] == []


def test_openapi_marks_the_deprecated_sweep_fields(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["SweepCreate"]
    for name in ("rank_by", "descending"):
        assert schema["properties"][name]["deprecated"] is True
        assert "Deprecated" in schema["properties"][name]["description"]
