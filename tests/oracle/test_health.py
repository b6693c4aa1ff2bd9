"""The oracle's `/health` (liveness, with the served model) and `/ready` (database, schema,
a model loaded), and its answer when the database is unreachable."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from oracle.app import create_app
from oracle.settings import OracleSettings
from tests.support.keys import UNCHECKABLE_KEY
from tests.support.ports import free_port
from velocitas.db.models_registry import ModelRecord


def test_ready_when_a_model_is_served(client: TestClient, production: ModelRecord) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "schema": "ok", "model": "ok"},
    }


def test_database_unreachable_answers_503_with_retry_after_and_no_address(
    database_url: str, tmp_path: Path
) -> None:
    socket_dir = tmp_path / "no-postgres-here"
    socket_dir.mkdir()
    settings = OracleSettings(database_url=f"postgresql://velocitas@/velocitas?host={socket_dir}")
    with TestClient(create_app(settings)) as client:
        ready = client.get("/ready")
        health = client.get("/health")
        # A well-formed key: checking it needs the database, which is what is down.
        models = client.get("/models", headers=UNCHECKABLE_KEY)
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "unavailable"
    assert health.status_code == 200
    assert models.status_code == 503
    assert int(models.headers["Retry-After"]) > 0
    for response in (ready, health, models):
        assert str(tmp_path) not in response.text


def test_ready_answers_503_on_a_port_nobody_serves(database_url: str) -> None:
    port = free_port()
    settings = OracleSettings(database_url=f"postgresql://velocitas@127.0.0.1:{port}/velocitas")
    with TestClient(create_app(settings)) as client:
        ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "database": "unavailable",
        "schema": "unknown (the database is unavailable)",
        "model": "none loaded yet (`/health` says why)",
    }
    assert str(port) not in ready.text
