"""The gateway's `GET /sentiment` and `GET /news/search`: authenticated users reach the analyst."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.main import create_app
from gateway.settings import GatewaySettings
from tests.gateway.conftest import Account
from tests.support.ports import free_port
from tests.support.processes import python_env, running, uvicorn, wait_for_http

AT = "2024-01-10T00:00:00Z"


@contextmanager
def _gateway_to(analyst_url: str) -> Iterator[TestClient]:
    """The gateway app proxying to `analyst_url` (its pooled client is made at start-up)."""
    with TestClient(create_app(GatewaySettings(analyst_url=analyst_url))) as gateway:
        yield gateway


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
    alice: Account, database_url: str
) -> None:
    with _analyst_process(database_url) as analyst_url, _gateway_to(analyst_url) as client:
        query = {"symbol": "SYN", "at": AT}
        direct = httpx.get(
            f"{analyst_url}/sentiment", params=query, headers=alice.headers, timeout=60
        )
        assert direct.status_code == 200, direct.text
        # The gateway forwards the caller's key: the analyst checks the same keys.
        proxied = client.get("/sentiment", params=query, headers=alice.headers)
        assert proxied.status_code == 200, proxied.text
        assert proxied.json() == direct.json()
        assert proxied.json()["n_docs"] == 0

        search = {"q": "SYN rallies", "at": AT, "symbol": "SYN", "k": "3"}
        found = client.get("/news/search", params=search, headers=alice.headers)
        assert found.status_code == 200, found.text
        assert found.json()["hits"] == []
        assert found.json()["symbol"] == "SYN"

        unkeyed = httpx.post(f"{analyst_url}/news", json={"articles": []}, timeout=60)
        assert unkeyed.status_code == 401

        # the analyst's own 422, relayed: it names the field (no SYN bars are stored)
        moves = {"symbol": "SYN", "start": AT, "end": "2024-01-11T00:00:00Z"}
        refused = client.get("/news/moves", params=moves, headers=alice.headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["query", "symbol"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/sentiment", {"symbol": "SYN", "at": AT}),
        ("/news/search", {"q": "crash", "at": AT}),
        ("/news/moves", {"symbol": "SYN", "start": AT, "end": "2024-01-11T00:00:00Z"}),
    ],
)
def test_analyst_routes_need_a_key(client: TestClient, path: str, params: dict[str, str]) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/sentiment", {"symbol": "SYN", "at": AT}),
        ("/news/search", {"q": "crash", "at": AT}),
        ("/news/moves", {"symbol": "SYN", "start": AT, "end": "2024-01-11T00:00:00Z"}),
    ],
)
def test_analyst_routes_answer_503_when_the_analyst_is_down(
    alice: Account, path: str, params: dict[str, str]
) -> None:
    with _gateway_to(f"http://127.0.0.1:{free_port()}") as client:
        response = client.get(path, params=params, headers=alice.headers)
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]


def test_sentiment_through_the_gateway_refuses_a_naive_instant(
    client: TestClient, alice: Account
) -> None:
    response = client.get(
        "/sentiment", params={"symbol": "SYN", "at": "2024-01-10T00:00:00"}, headers=alice.headers
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "at"]
