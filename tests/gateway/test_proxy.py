"""The gateway's relayed routes (`gateway.proxy`, `gateway.upstream`) against a real HTTP server
standing in for the oracle and the analyst: what is forwarded, what comes back, what never
leaves the gateway."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fastapi.testclient import TestClient

from gateway.main import create_app
from gateway.settings import GatewaySettings
from tests.gateway.conftest import Account
from tests.support.ports import free_port


@dataclass
class Seen:
    """One request the stand-in service received."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # the client port: equal for requests on one kept-alive connection


@dataclass
class StandIn:
    """What the service answers (`reply`), how late (`delay_s`), and what it was asked."""

    url: str
    seen: list[Seen] = field(default_factory=list)
    reply: tuple[int, bytes, str] = (200, b'{"action": 1}', "application/json")
    delay_s: float = 0.0


@contextmanager
def stand_in() -> Iterator[StandIn]:
    """A keep-alive HTTP/1.1 server on a free port, recording every request."""
    server_state = StandIn(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            server_state.seen.append(
                Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    self.client_address[1],
                )
            )
            time.sleep(server_state.delay_s)
            status, payload, content_type = server_state.reply
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer  # noqa: N815 (http.server's names)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def gateway(**settings: object) -> Iterator[TestClient]:
    with TestClient(create_app(GatewaySettings(**settings))) as client:  # type: ignore[arg-type]
        yield client


def test_predict_forwards_body_query_key_and_content_type_and_relays_the_answer(
    alice: Account,
) -> None:
    body = b'{"state": [1, 2.5e-3]}'
    with stand_in() as oracle, gateway(oracle_url=oracle.url) as client:
        oracle.reply = (418, b'{"detail": "teapot"}', "application/problem+json")
        headers = {**alice.headers, "content-type": "application/json", "x-private": "no"}
        response = client.post("/predict?explain=1&who=a%20b", content=body, headers=headers)
    assert (response.status_code, response.content) == (418, b'{"detail": "teapot"}')
    assert response.headers["content-type"] == "application/problem+json"
    [seen] = oracle.seen
    assert (seen.method, seen.target, seen.body) == ("POST", "/predict?explain=1&who=a%20b", body)
    assert seen.headers["authorization"] == alice.headers["Authorization"]
    assert seen.headers["content-type"] == "application/json"
    assert "x-private" not in seen.headers  # only the key and the body's type travel


def test_predict_reuses_one_connection(alice: Account) -> None:
    with stand_in() as oracle, gateway(oracle_url=oracle.url) as client:
        for _ in range(3):
            assert client.post("/predict", json={"state": [0]}, headers=alice.headers).is_success
    assert len(oracle.seen) == 3
    assert len({seen.connection for seen in oracle.seen}) == 1


def test_predict_without_a_valid_key_is_401_and_never_forwarded(alice: Account) -> None:
    with stand_in() as oracle, gateway(oracle_url=oracle.url) as client:
        missing = client.post("/predict", json={"state": [0]})
        wrong = client.post(
            "/predict", json={"state": [0]}, headers={"Authorization": "Bearer vk_nope"}
        )
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.json() == {"detail": "missing or invalid API key"}
    assert oracle.seen == []


def test_predict_over_the_body_cap_is_413_and_never_forwarded(alice: Account) -> None:
    cap = 1024
    with stand_in() as oracle, gateway(oracle_url=oracle.url, oracle_max_body_bytes=cap) as client:
        declared = client.post("/predict", content=b"x" * (cap + 1), headers=alice.headers)
        streamed = client.post("/predict", content=iter([b"x" * cap, b"x"]), headers=alice.headers)
        at_the_cap = client.post("/predict", content=b"x" * cap, headers=alice.headers)
    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert "ORACLE_MAX_BODY_BYTES" in declared.json()["detail"]
    assert at_the_cap.status_code == 200
    assert [seen.body for seen in oracle.seen] == [b"x" * cap]


def test_an_unreachable_oracle_is_503_naming_no_address(alice: Account) -> None:
    port = free_port()
    with gateway(oracle_url=f"http://127.0.0.1:{port}") as client:
        response = client.post("/predict", json={"state": [0]}, headers=alice.headers)
    assert response.status_code == 503
    assert response.json() == {"detail": "the oracle is unreachable"}
    assert response.headers["content-type"] == "application/json"


def test_a_slow_oracle_is_504_naming_no_address(alice: Account) -> None:
    with stand_in() as oracle, gateway(oracle_url=oracle.url, oracle_timeout_s=0.2) as client:
        oracle.delay_s = 1.0
        response = client.post("/predict", json={"state": [0]}, headers=alice.headers)
        oracle.delay_s = 0.0
        after = client.post("/predict", json={"state": [0]}, headers=alice.headers)
    assert response.status_code == 504
    assert response.json() == {"detail": "the oracle did not answer in time"}
    assert after.status_code == 200  # the late answer's connection was dropped, not reused


def test_analyst_routes_forward_the_validated_query_and_the_key(alice: Account) -> None:
    with stand_in() as analyst, gateway(analyst_url=analyst.url) as client:
        analyst.reply = (200, b'{"score": 0.5}', "application/json")
        sentiment = client.get(
            "/sentiment",
            params={"symbol": "SYN", "at": "2024-01-10T00:00:00Z"},
            headers=alice.headers,
        )
        search = client.get(
            "/news/search",
            params={"q": "a b&c", "at": "2024-01-10T00:00:00Z", "k": "3"},
            headers=alice.headers,
        )
    assert (sentiment.json(), search.json()) == ({"score": 0.5}, {"score": 0.5})
    first, second = analyst.seen
    assert first.target == "/sentiment?symbol=SYN&at=2024-01-10T00%3A00%3A00%2B00%3A00"
    assert second.target.startswith("/news/search?q=a+b%26c&at=")
    assert "&k=3&window=3d" in second.target
    assert {first.headers["authorization"], second.headers["authorization"]} == {
        alice.headers["Authorization"]
    }


def test_relayed_routes_stay_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/predict", "/sentiment", "/news/search"} <= set(paths)
    assert "requestBody" in paths["/predict"]["post"]
