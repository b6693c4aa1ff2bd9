"""`POST /predict`, `/health`, `/models` on an app serving a registered bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from oracle.app import create_app
from oracle.settings import OracleSettings
from tests.support.keys import new_key_headers
from velocitas.agent.policy import read_policy
from velocitas.db.models_registry import ModelRecord
from velocitas.features import FeatureSpec

OBS_DIM = FeatureSpec().n_features + 1


def _states(n: int, seed: int = 0) -> list[list[float]]:
    return np.random.default_rng(seed).normal(0.0, 2.0, (n, OBS_DIM)).tolist()


def test_predict_one_state_answers_the_policy_action_and_probability(
    client: TestClient, production: ModelRecord
) -> None:
    state = _states(1)[0]
    response = client.post("/predict", json={"state": state})
    assert response.status_code == 200, response.text
    body = response.json()
    actions, confidence = read_policy(production.path).predict(np.array([state]))
    assert body["action"] == int(actions[0])
    assert body["confidence"] == pytest.approx(float(confidence[0]), abs=1e-6)
    assert body["model_version"] == "v1"
    assert body["feature_spec_hash"] == FeatureSpec().spec_hash()


def test_predict_batch_answers_each_row_in_order(
    client: TestClient, production: ModelRecord
) -> None:
    states = _states(8, seed=3)
    response = client.post("/predict", json={"states": states})
    assert response.status_code == 200, response.text
    body = response.json()
    actions, confidence = read_policy(production.path).predict(np.array(states))
    assert [row["action"] for row in body["predictions"]] == actions.tolist()
    got = [row["confidence"] for row in body["predictions"]]
    np.testing.assert_allclose(got, confidence, atol=1e-6)
    assert body["model_version"] == "v1"


def test_predict_accepts_integers_as_numbers(client: TestClient) -> None:
    response = client.post("/predict", json={"state": [0] * OBS_DIM})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"state": [0.0] * (OBS_DIM - 1)}, "state", f"the model expects {OBS_DIM}"),
        ({"state": [0.0] * (OBS_DIM + 1)}, "state", f"the model expects {OBS_DIM}"),
        ({"state": ["1.0"] + [0.0] * (OBS_DIM - 1)}, "state", "valid number"),
        ({"state": [True] + [0.0] * (OBS_DIM - 1)}, "state", "valid number"),
        ({"state": None, "states": None}, "body", "exactly one of"),
        ({"state": [0.0] * OBS_DIM, "states": [[0.0] * OBS_DIM]}, "body", "exactly one of"),
        ({"states": [[0.0] * OBS_DIM] * 9}, "states", "at most 8"),
        ({"states": []}, "states", "at least one"),
        ({"states": [[0.0] * OBS_DIM, [0.0] * 3]}, "states.1", "has 3 numbers"),
        ({"symbol": "TEST"}, "body", "go together"),
        ({"state": [0.0] * OBS_DIM, "extra": 1}, "extra", "Extra inputs"),
        ({"state": [1e308] + [0.0] * (OBS_DIM - 1)}, "state.0", "less than or equal"),
        # issue 12: a NUL reached the database (500); instants overflowed when shifted (500)
        ({"symbol": "TEST\x00", "at": "2024-01-01T00:00:00Z"}, "symbol", "pattern"),
        ({"symbol": "TEST", "at": "0001-01-01T00:00:00Z"}, "at", "outside the instants"),
        ({"symbol": "TEST", "at": "9999-12-31T23:59:59-23:00"}, "at", "outside the instants"),
        (
            {"symbol": "TEST", "at": "2024-01-01T00:00:00Z", "start": "0001-01-01T00:00:00Z"},
            "start",
            "outside the instants",
        ),
    ],
)
def test_predict_refuses_malformed_requests_naming_the_field(
    client: TestClient, body: dict[str, object], field: str, reason: str
) -> None:
    response = client.post("/predict", json=body)
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    located = [p for p in problems if ".".join(str(x) for x in p["loc"][1:]).startswith(field)]
    located = located or [p for p in problems if field == "body"]
    assert located, problems
    assert any(reason in p["msg"] for p in located), problems


def test_predict_refuses_a_lone_surrogate_in_the_symbol(client: TestClient) -> None:
    response = client.post(
        "/predict",
        content=json.dumps({"symbol": "TEST\ud800", "at": "2024-01-01T00:00:00Z"}),
        headers={"content-type": "application/json"},
    )
    # The oracle parses with pydantic-core, which refuses the document itself, naming the column.
    assert response.status_code == 422, response.text
    assert "Invalid JSON" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_predict_refuses_non_finite_numbers(client: TestClient, token: str) -> None:
    numbers = ", ".join([token] + ["0.5"] * (OBS_DIM - 1))
    response = client.post(
        "/predict",
        content=f'{{"state": [{numbers}]}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:3] == ["body", "state", 0]


def test_predict_refuses_a_body_above_the_limit_with_413(client: TestClient) -> None:
    response = client.post("/predict", json={"states": _states(8) * 3})
    assert response.status_code == 413
    assert "4096" in response.json()["detail"]


def test_predict_refuses_a_chunked_body_above_the_limit_with_413(client: TestClient) -> None:
    def chunks() -> object:
        yield b'{"states": ['
        for _ in range(200):
            yield b"[" + b"0.0," * (OBS_DIM - 1) + b"0.0],"
        yield b"]}"

    response = client.post(
        "/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_predict_without_a_model_answers_503(database_url: str) -> None:
    with TestClient(create_app(OracleSettings()), headers=new_key_headers()) as client:
        predicted = client.post("/predict", json={"state": [0.0] * OBS_DIM})
        assert predicted.status_code == 503
        assert int(predicted.headers["Retry-After"]) > 0
        health = client.get("/health")
        assert health.status_code == 200  # liveness: the process answers
        assert health.json()["model_version"] is None
        assert "no model is in production" in health.json()["last_error"]
        assert client.get("/ready").json()["checks"]["model"] != "ok"


def test_health_reports_the_loaded_version(client: TestClient, production: ModelRecord) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["model_version"] == "v1"
    assert body["sha256"] == production.sha256


def test_models_lists_the_registry_and_marks_the_served_one(
    client: TestClient, tmp_path: Path
) -> None:
    from tests.oracle.factories import registered_bundle

    registered_bundle(tmp_path, "v2", seed=2)
    models = {m["version"]: m for m in client.get("/models").json()}
    assert models["v1"]["serving"] is True
    assert models["v1"]["stage"] == "production"
    assert models["v2"]["serving"] is False


def test_predict_serves_the_pinned_version(production: ModelRecord, tmp_path: Path) -> None:
    from tests.oracle.factories import registered_bundle

    registered_bundle(tmp_path, "v2", seed=2)
    with TestClient(
        create_app(OracleSettings(oracle_model_version="v2")), headers=new_key_headers()
    ) as client:
        body = client.post("/predict", json={"state": [0.0] * OBS_DIM}).json()
        assert body["model_version"] == "v2"


def test_predict_box_policy_answers_the_action_vector(database_url: str, tmp_path: Path) -> None:
    from tests.oracle.factories import registered_bundle
    from velocitas.db.models_registry import promote_model

    record = registered_bundle(tmp_path, "box", kind="box", seed=6)
    promote_model("box")
    states = _states(4, seed=8)
    expected = read_policy(record.path).action_output(np.array(states))
    with TestClient(create_app(OracleSettings()), headers=new_key_headers()) as client:
        one = client.post("/predict", json={"state": states[0]}).json()
        many = client.post("/predict", json={"states": states}).json()
    assert one["confidence"] == 1.0
    np.testing.assert_allclose(one["action"], expected[0], atol=1e-5)
    got = np.array([row["action"] for row in many["predictions"]])
    np.testing.assert_allclose(got, expected, atol=1e-5)  # float32 accumulation order


def test_predict_refuses_a_body_that_is_not_json(client: TestClient) -> None:
    response = client.post(
        "/predict", content=b'{"state": [1, 2', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_openapi_documents_the_predict_body(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/predict"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert {"state", "states", "symbol", "at", "position", "start"} <= set(schema["properties"])


def test_oracle_routes_need_an_api_key(client: TestClient) -> None:
    anonymous = {"Authorization": ""}
    for method, path in (("POST", "/predict"), ("GET", "/models")):
        response = client.request(method, path, json={"state": [0.0] * OBS_DIM}, headers=anonymous)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/health", headers=anonymous).status_code == 200


def test_oracle_refuses_a_large_body_without_a_key_before_its_size(client: TestClient) -> None:
    big = {"states": _states(8) * 3}  # over the 4096-byte cap: the key is checked first
    assert client.post("/predict", json=big, headers={"Authorization": ""}).status_code == 401


def test_oracle_accepts_the_key_a_gateway_forwards(
    key_headers: dict[str, str], client: TestClient
) -> None:
    fresh = TestClient(client.app)  # no default headers: the key comes with the request alone
    response = fresh.post("/predict", json={"state": [0.0] * OBS_DIM}, headers=key_headers)
    assert response.status_code == 200, response.text
