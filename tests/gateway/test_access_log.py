"""A key passed in a URL never reaches the gateway's logs: a real uvicorn, its output read."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.ports import free_port
from tests.support.processes import python_env, running, uvicorn, wait_for_http


@pytest.mark.slow
def test_access_log_never_holds_a_key_passed_in_the_query(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    secret = f"vk_{uuid.uuid4().hex}"
    port = free_port()
    log = tmp_path / "gateway.log"
    env = python_env({"DATABASE_URL": database_url, "REDIS_URL": redis_url})
    argv = uvicorn("gateway.main:app", port, "--log-level", "info")
    with running(argv, env, log, stop_timeout=10) as process:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health", process, timeout=90)
        assert httpx.get(f"{base}/health", params={"api_key": secret}).status_code == 200
        with (
            connect(f"ws://127.0.0.1:{port}/ws?key={secret}") as ws,
            pytest.raises(ConnectionClosed) as closed,
        ):
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    text = log.read_text()
    assert secret not in text
    assert "/health?api_key=[redacted]" in text  # the requests were logged, masked
    assert "/ws?key=[redacted]" in text
