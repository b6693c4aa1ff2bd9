"""The gateway's `POST /predict`: authenticated users reach the oracle over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from gateway.main import create_app
from gateway.settings import GatewaySettings
from tests.gateway.conftest import Account
from tests.oracle.factories import registered_bundle
from tests.oracle.server import oracle_process
from tests.support.ports import free_port
from velocitas.db.models_registry import promote_model
from velocitas.features import FeatureSpec

OBS_DIM = FeatureSpec().n_features + 1


@contextmanager
def _gateway_to(oracle_url: str) -> Iterator[TestClient]:
    """The gateway app proxying to `oracle_url` (its pooled client is made at start-up)."""
    with TestClient(create_app(GatewaySettings(oracle_url=oracle_url))) as gateway:
        yield gateway


@pytest.mark.slow  # starts a real oracle process
def test_predict_through_the_gateway_answers_as_the_oracle(
    alice: Account, database_url: str, tmp_path: Path
) -> None:
    registered_bundle(tmp_path, "v1", seed=1)
    promote_model("v1")
    state = np.random.default_rng(0).normal(0.0, 2.0, OBS_DIM).tolist()
    with (
        oracle_process({"DATABASE_URL": database_url}) as oracle_url,
        _gateway_to(oracle_url) as client,
    ):
        direct = httpx.post(f"{oracle_url}/predict", json={"state": state}, headers=alice.headers)
        assert direct.status_code == 200, direct.text
        # The gateway forwards the caller's key: the oracle checks the same keys.
        response = client.post("/predict", json={"state": state}, headers=alice.headers)
        assert response.status_code == 200, response.text
        assert response.json() == direct.json()
        assert response.json()["model_version"] == "v1"

        refused = client.post("/predict", json={"state": [1.0]}, headers=alice.headers)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "state"]

        anonymous = client.post("/predict", json={"state": state})
        assert anonymous.status_code == 401
        assert httpx.post(f"{oracle_url}/predict", json={"state": state}).status_code == 401


def test_predict_through_the_gateway_answers_503_when_the_oracle_is_down(alice: Account) -> None:
    with _gateway_to(f"http://127.0.0.1:{free_port()}") as client:
        response = client.post("/predict", json={"state": [0.0] * OBS_DIM}, headers=alice.headers)
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]


def test_predict_through_the_gateway_refuses_a_large_body(alice: Account) -> None:
    big = {"states": [[0.0] * OBS_DIM] * 20_000}
    with _gateway_to(f"http://127.0.0.1:{free_port()}") as client:
        response = client.post("/predict", json=big, headers=alice.headers)
        assert response.status_code == 413
        assert "ORACLE_MAX_BODY_BYTES" in response.json()["detail"]
        assert client.post("/predict", json=big).status_code == 401  # the key comes first
