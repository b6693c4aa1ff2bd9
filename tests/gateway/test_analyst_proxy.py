"""The gateway's `GET /sentiment` and `GET /news/search`: authenticated users reach the analyst."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.settings import GatewaySettings, get_gateway_settings
from tests.gateway.conftest import Account
from tests.support.ports import free_port
from tests.support.processes import python_env, running, uvicorn, wait_for_http

AT = "2024-01-10T00:00:00Z"


def _point_at(client: TestClient, analyst_url: str) -> None:
    client.app.dependency_overrides[get_gateway_settings] = lambda: GatewaySettings(  # type: ignore[attr-defined]
        analyst_url=analyst_url
    )


@contextmanager
def _analyst_process(database_url: str) -> Iterator[str]:
    port = free_port()
    argv = uvicorn("analyst.app:create_app", port, "--factory", "--log-level", "warning")
    with running(argv, python_env({"DATABASE_URL": database_url}), stop_timeout=10) as process:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/health", process, timeout=60)
        yield url


@pytest.mark.slow  # starts a real analyst process, which loads the embedding model
def test_analyst_routes_through_the_gateway_answer_as_the_analyst(
    client: TestClient, alice: Account, database_url: str
) -> None:
    with _analyst_process(database_url) as analyst_url:
        _point_at(client, analyst_url)
        query = {"symbol": "SYN", "at": AT}
        direct = httpx.get(f"{analyst_url}/sentiment", params=query, timeout=60).json()
        proxied = client.get("/sentiment", params=query, headers=alice.headers)
        assert proxied.status_code == 200, proxied.text
        assert proxied.json() == direct
        assert proxied.json()["n_docs"] == 0

        search = {"q": "SYN rallies", "at": AT, "symbol": "SYN", "k": "3"}
        found = client.get("/news/search", params=search, headers=alice.headers)
        assert found.status_code == 200, found.text
        assert found.json()["hits"] == []
        assert found.json()["symbol"] == "SYN"


@pytest.mark.parametrize(
    ("path", "params"),
    [("/sentiment", {"symbol": "SYN", "at": AT}), ("/news/search", {"q": "crash", "at": AT})],
)
def test_analyst_routes_need_a_key(client: TestClient, path: str, params: dict[str, str]) -> None:
    _point_at(client, f"http://127.0.0.1:{free_port()}")
    response = client.get(path, params=params)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("path", "params"),
    [("/sentiment", {"symbol": "SYN", "at": AT}), ("/news/search", {"q": "crash", "at": AT})],
)
def test_analyst_routes_answer_503_when_the_analyst_is_down(
    client: TestClient, alice: Account, path: str, params: dict[str, str]
) -> None:
    _point_at(client, f"http://127.0.0.1:{free_port()}")
    response = client.get(path, params=params, headers=alice.headers)
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]


def test_sentiment_through_the_gateway_refuses_a_naive_instant(
    client: TestClient, alice: Account
) -> None:
    _point_at(client, f"http://127.0.0.1:{free_port()}")
    response = client.get(
        "/sentiment", params={"symbol": "SYN", "at": "2024-01-10T00:00:00"}, headers=alice.headers
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "at"]
