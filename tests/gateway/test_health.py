"""`/health` (liveness: the process answers) and `/ready` (the database, its schema and Redis
answer) on the gateway; with the database or the queue down, 503 with `Retry-After` and a
body that names the dependency, never its address."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.main import create_app
from gateway.queue import enqueue
from gateway.settings import GatewaySettings, get_gateway_settings
from tests.gateway.conftest import Account
from tests.support.ports import free_port
from velocitas.db import migrate
from velocitas.db.accounts import forget_cached_keys
from velocitas.domain.events import JobKind
from velocitas.errors import TransientError
from velocitas.settings import get_settings


@pytest.fixture
def fresh_client(platform_env: str) -> Callable[[], TestClient]:
    """A client on an app that reads the environment as it is when the request comes."""

    def make() -> TestClient:
        app = create_app()
        app.dependency_overrides[get_gateway_settings] = lambda: GatewaySettings()
        return TestClient(app)

    return make


def _point(monkeypatch: pytest.MonkeyPatch, variable: str, url: str) -> None:
    monkeypatch.setenv(variable, url)
    get_settings.cache_clear()
    forget_cached_keys()


def _unreachable_databases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """URL -> the address it names: a unix socket directory and a TCP port nobody serves."""
    socket_dir = tmp_path / "no-postgres-here"
    socket_dir.mkdir()
    port = free_port()
    return {
        "socket": (f"postgresql://velocitas@/velocitas?host={socket_dir}", str(socket_dir)),
        "port": (f"postgresql://velocitas@127.0.0.1:{port}/velocitas", str(port)),
    }


def test_ready_when_the_database_its_schema_and_redis_answer(
    fresh_client: Callable[[], TestClient],
) -> None:
    with fresh_client() as client:
        response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "schema": "ok", "redis": "ok"},
    }


@pytest.mark.parametrize("where", ["socket", "port"])
def test_ready_answers_503_when_the_database_is_unreachable_and_health_stays_200(
    fresh_client: Callable[[], TestClient],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    where: str,
) -> None:
    url, address = _unreachable_databases(tmp_path)[where]
    _point(monkeypatch, "DATABASE_URL", url)
    with fresh_client() as client:
        ready = client.get("/ready")
        health = client.get("/health")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert ready.json()["checks"]["database"] == "unavailable"
    assert ready.json()["checks"]["redis"] == "ok"
    assert address not in ready.text
    assert health.status_code == 200


def test_ready_answers_503_when_redis_is_unreachable(
    fresh_client: Callable[[], TestClient], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    socket = tmp_path / "no-redis.sock"
    _point(monkeypatch, "REDIS_URL", f"unix://{socket}")
    with fresh_client() as client:
        ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "schema": "ok", "redis": "unavailable"}
    assert str(tmp_path) not in ready.text


def test_ready_answers_503_until_the_schema_is_at_head(
    fresh_client: Callable[[], TestClient], database_url: str
) -> None:
    migrate.downgrade("-1", database_url=database_url)  # an older revision, as before a deploy
    with fresh_client() as client:
        behind = client.get("/ready")
        migrate.upgrade("head", database_url=database_url)
        after = client.get("/ready")
    assert behind.status_code == 503
    assert behind.json()["checks"]["database"] == "ok"
    assert behind.json()["checks"]["schema"].startswith("not at head")
    assert after.status_code == 200


@pytest.mark.parametrize("where", ["socket", "port"])
def test_a_database_outage_answers_503_with_retry_after_naming_no_address(
    fresh_client: Callable[[], TestClient],
    alice: Account,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    where: str,
) -> None:
    url, address = _unreachable_databases(tmp_path)[where]
    _point(monkeypatch, "DATABASE_URL", url)
    with fresh_client() as client:
        response = client.get("/backtests", headers=alice.headers)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.json() == {"detail": "the database is unavailable, retry later"}
    assert address not in response.text


def test_enqueue_with_the_queue_down_is_transient_and_names_no_socket(
    platform_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uuid

    socket = tmp_path / "no-redis.sock"
    _point(monkeypatch, "REDIS_URL", f"unix://{socket}")
    with pytest.raises(TransientError) as raised:
        enqueue(uuid.uuid4(), JobKind.BACKTEST)
    assert "unavailable" in str(raised.value)
    assert str(tmp_path) not in str(raised.value)


@pytest.mark.parametrize("parameter", ["key", "token", "api_key", "API_KEY"])
def test_ws_refuses_a_key_in_the_url_with_a_reason(
    fresh_client: Callable[[], TestClient], alice: Account, parameter: str
) -> None:
    with fresh_client() as client, client.websocket_connect(f"/ws?{parameter}={alice.key}") as ws:
        ws.send_json({"type": "auth", "key": alice.key})  # even a valid key after it: refused
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008
    assert "URL" in closed.value.reason
    assert "Authorization header" in closed.value.reason


def test_ws_without_a_key_in_the_url_still_subscribes(
    fresh_client: Callable[[], TestClient], alice: Account
) -> None:
    with fresh_client() as client, client.websocket_connect("/ws?since=now") as ws:
        ws.send_json({"type": "auth", "key": alice.key})
        assert ws.receive_json() == {"type": "ready"}
