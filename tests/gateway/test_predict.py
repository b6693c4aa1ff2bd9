"""The gateway's `POST /predict`: authenticated users reach the oracle over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from gateway.settings import GatewaySettings, get_gateway_settings
from tests.gateway.conftest import Account
from tests.oracle.factories import registered_bundle
from tests.oracle.server import oracle_process
from tests.support.ports import free_port
from velocitas.db.models_registry import promote_model
from velocitas.features import FeatureSpec

OBS_DIM = FeatureSpec().n_features + 1


def _point_at(client: TestClient, oracle_url: str) -> None:
    client.app.dependency_overrides[get_gateway_settings] = lambda: GatewaySettings(  # type: ignore[attr-defined]
        oracle_url=oracle_url
    )


@pytest.mark.slow  # starts a real oracle process
def test_predict_through_the_gateway_answers_as_the_oracle(
    client: TestClient, alice: Account, database_url: str, tmp_path: Path
) -> None:
    registered_bundle(tmp_path, "v1", seed=1)
    promote_model("v1")
    state = np.random.default_rng(0).normal(0.0, 2.0, OBS_DIM).tolist()
    with oracle_process({"DATABASE_URL": database_url}) as oracle_url:
        _point_at(client, oracle_url)
        direct = httpx.post(f"{oracle_url}/predict", json={"state": state}).json()
        response = client.post("/predict", json={"state": state}, headers=alice.headers)
        assert response.status_code == 200, response.text
        assert response.json() == direct
        assert response.json()["model_version"] == "v1"

        refused = client.post("/predict", json={"state": [1.0]}, headers=alice.headers)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "state"]

        anonymous = client.post("/predict", json={"state": state})
        assert anonymous.status_code == 401


def test_predict_through_the_gateway_answers_503_when_the_oracle_is_down(
    client: TestClient, alice: Account
) -> None:
    _point_at(client, f"http://127.0.0.1:{free_port()}")
    response = client.post("/predict", json={"state": [0.0] * OBS_DIM}, headers=alice.headers)
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]


def test_predict_through_the_gateway_refuses_a_large_body(
    client: TestClient, alice: Account
) -> None:
    _point_at(client, f"http://127.0.0.1:{free_port()}")
    big = {"states": [[0.0] * OBS_DIM] * 20_000}
    response = client.post("/predict", json=big, headers=alice.headers)
    assert response.status_code == 413
