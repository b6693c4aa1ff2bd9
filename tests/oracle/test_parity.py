"""Parity: for the same stored bars, the observation the lab's environment produced and the one
the oracle builds from `{"symbol", "at"}` are equal, and so are the actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from lab.env import EnvConfig, TradingEnv
from oracle.app import create_app
from oracle.settings import OracleSettings
from tests.lab.factories import make_bars
from tests.oracle.factories import registered_bundle, store_bars
from tests.support.keys import new_key_headers
from velocitas.agent.contract import target_side
from velocitas.agent.policy import policy_signals, read_policy
from velocitas.db.models_registry import promote_model
from velocitas.features import build_features

HOUR = timedelta(hours=1)


def _closed_at(opened_at_ns: int) -> datetime:
    return datetime.fromtimestamp(opened_at_ns // 1_000_000_000, UTC) + HOUR


def test_oracle_observation_and_action_equal_the_lab_env(database_url: str, tmp_path: Path) -> None:
    bars = make_bars(400, seed=11)
    store_bars(database_url, bars)
    record = registered_bundle(tmp_path, "v1", seed=4)  # long/flat, as default_execution
    promote_model("v1")
    policy = read_policy(record.path)

    # The lab's evaluation: step the env from the warm-up with the policy's deterministic action.
    env = TradingEnv(bars, config=EnvConfig(episode_bars=None, random_start=False))
    observation, info = env.reset(seed=0)
    produced: list[tuple[int, np.ndarray, int]] = []
    done = False
    while not done:
        actions, _ = policy.predict(observation[None, :])
        action = int(actions[0])
        produced.append((int(info["bar"]), observation.copy(), action))
        observation, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    assert len({a for _, _, a in produced}) > 1  # the policy acts: actions can disagree
    assert len({int(o[-1]) for _, o, _ in produced}) > 1  # and the position changes
    # ... and these are the decisions the lab's evaluation back-tests (`policy_signals`).
    signals = policy_signals(policy, build_features(bars, policy.feature_spec))
    for bar, lab_observation, lab_action in produced:
        chosen = target_side(lab_action, int(lab_observation[-1]), "discrete", allow_short=False)
        assert chosen == signals[bar]

    start = datetime.fromtimestamp(int(bars.opened_at[0]) // 1_000_000_000, UTC)
    with TestClient(create_app(OracleSettings()), headers=new_key_headers()) as client:
        for k, (bar, lab_observation, lab_action) in enumerate(produced[::9]):
            body = {
                "symbol": "TEST",
                "at": _closed_at(int(bars.opened_at[bar])).isoformat(),
                "position": int(lab_observation[-1]),
            }
            if k % 2:
                body["start"] = start.isoformat()  # the same series, named explicitly
            response = client.post("/predict", json=body)
            assert response.status_code == 200, response.text
            answer = response.json()
            built = np.array(answer["observation"], dtype=np.float64)
            np.testing.assert_array_equal(built, lab_observation.astype(np.float64))
            assert answer["action"] == lab_action
            assert answer["bar_closed_at"] == _closed_at(int(bars.opened_at[bar])).isoformat()


def test_predict_symbol_form_refuses_too_few_bars(database_url: str, tmp_path: Path) -> None:
    bars = make_bars(50, seed=1)
    store_bars(database_url, bars)
    registered_bundle(tmp_path, "v1")
    promote_model("v1")
    with TestClient(create_app(OracleSettings()), headers=new_key_headers()) as client:
        at = _closed_at(int(bars.opened_at[-1])).isoformat()
        response = client.post("/predict", json={"symbol": "TEST", "at": at})
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["body", "at"]
    assert "the features need at least" in problem["msg"]
