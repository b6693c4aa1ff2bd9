"""Hot reload: promoting another version switches a running oracle without a failed request;
a corrupt bundle is refused and the old model keeps serving."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from oracle.holder import ModelHolder
from oracle.settings import OracleSettings
from tests.oracle.factories import registered_bundle
from tests.oracle.server import oracle_process
from tests.support.waiting import wait_until
from velocitas.db.models_registry import ModelRecord, promote_model
from velocitas.features import FeatureSpec
from velocitas_cli.main import app as cli_app

OBS_DIM = FeatureSpec().n_features + 1


def _corrupt(record: ModelRecord) -> None:
    weights = Path(record.path) / "policy.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))


def _promote(version: str) -> None:
    result = CliRunner().invoke(cli_app, ["lab", "promote", version, "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["stage"] == "production"


def test_holder_refresh_swaps_to_the_new_production_model(
    production: ModelRecord, tmp_path: Path
) -> None:
    holder = ModelHolder(OracleSettings())
    assert holder.refresh() is True
    assert holder.current is not None
    assert holder.current.version == "v1"
    assert holder.refresh() is False  # nothing changed
    registered_bundle(tmp_path, "v2", seed=2)
    promote_model("v2")
    assert holder.refresh() is True
    assert holder.current.version == "v2"


def test_holder_refuses_a_corrupt_bundle_and_keeps_serving(
    production: ModelRecord, tmp_path: Path
) -> None:
    holder = ModelHolder(OracleSettings())
    holder.refresh()
    bad = registered_bundle(tmp_path, "v2", seed=2)
    _corrupt(bad)
    promote_model("v2")
    assert holder.refresh() is False
    assert holder.current is not None
    assert holder.current.version == "v1"
    assert holder.last_error is not None
    assert "refused model 'v2'" in holder.last_error
    assert "modified after it was written" in holder.last_error
    assert ("v2", bad.sha256) in holder.refused


@pytest.mark.slow
def test_oracle_switches_versions_under_load_without_a_failed_request(
    production: ModelRecord, database_url: str, tmp_path: Path, key_headers: dict[str, str]
) -> None:
    registered_bundle(tmp_path, "v2", seed=2)
    corrupt = registered_bundle(tmp_path, "v3", seed=3)
    _corrupt(corrupt)
    env = {"DATABASE_URL": database_url, "ORACLE_POLL_MS": "100"}
    with oracle_process(env) as url:
        seen: list[str] = []
        failures: list[str] = []
        stop = threading.Event()

        def hammer() -> None:
            with httpx.Client(base_url=url, headers=key_headers, timeout=5.0) as client:
                state = {"state": [0.1] * OBS_DIM}
                while not stop.is_set():
                    try:
                        response = client.post("/predict", json=state)
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                        continue
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text}")
                    else:
                        seen.append(response.json()["model_version"])

        client_thread = threading.Thread(target=hammer)
        client_thread.start()
        try:
            wait_until(lambda: len(seen) >= 200, message="v1 answered 200 requests")
            _promote("v3")  # corrupt: refused, v1 keeps serving
            wait_until(
                lambda: "v3" in (httpx.get(f"{url}/health").json()["last_error"] or ""),
                message="the oracle reported refusing v3",
            )
            refused_at = len(seen)
            _promote("v2")
            wait_until(lambda: seen[-1] == "v2", message="v2 answered")
            settled = len(seen)
            wait_until(lambda: len(seen) >= settled + 200, message="v2 answered 200 requests")
        finally:
            stop.set()
            client_thread.join()
    assert failures == []
    assert set(seen[:refused_at]) == {"v1"}
    switch = seen.index("v2")
    assert switch > refused_at
    assert set(seen[:switch]) == {"v1"}
    assert set(seen[switch:]) == {"v2"}  # never back to v1, never the corrupt v3
