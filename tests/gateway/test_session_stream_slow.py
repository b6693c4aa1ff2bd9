"""A client that stops reading is dropped from the session stream (1013) while a client on the
same session keeps receiving everything: a real uvicorn, real sockets, a small send queue."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.gateway.conftest import Account
from tests.gateway.session_journal import open_session
from tests.support.ports import free_port
from tests.support.processes import python_env, running, uvicorn, wait_for_http
from tests.support.waiting import wait_until
from velocitas.sessions.publisher import RedisPublisher

MAX_BATCHES = 3000
TICKS = 1000  # ~15 kB a batch: the sockets' buffers hold a few MB
WINDOW = 8


def _subscribed(
    stack: ExitStack,
    port: int,
    account: Account,
    session_id: uuid.UUID,
    *,
    receive_buffer: int | None = None,
) -> ClientConnection:
    sock = socket.socket()
    if receive_buffer is not None:  # set before connecting: no autotuning to megabytes
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", port))
    ws = stack.enter_context(
        connect(
            f"ws://127.0.0.1:{port}/ws",
            sock=sock,
            additional_headers=account.headers,
            # 1 frame: the client library stops reading its socket once one frame waits.
            max_queue=1 if receive_buffer is not None else 16,
        )
    )
    assert json.loads(ws.recv(timeout=30)) == {"type": "ready"}
    ws.send(json.dumps({"type": "subscribe", "session": str(session_id), "channels": ["ticks"]}))
    assert json.loads(ws.recv(timeout=30))["type"] == "subscribed"
    return ws


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_slow_client_is_dropped_and_a_fast_one_gets_everything(
    database_url: str,
    redis_url: str,
    make_account: Callable[..., Account],
    tmp_path: Path,
) -> None:
    alice = make_account("alice")
    session_id = open_session(alice.id)
    port = free_port()
    env = python_env({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "WS_SEND_QUEUE": "32"})
    argv = uvicorn("gateway.main:app", port, "--log-level", "warning")
    with (
        running(argv, env, tmp_path / "gateway.log", stop_timeout=10) as process,
        ExitStack() as stack,
    ):
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health", process, timeout=90)
        slow = _subscribed(stack, port, alice, session_id, receive_buffer=16_384)
        fast = _subscribed(stack, port, alice, session_id)
        received: list[int] = []
        published: list[int] = []
        done = threading.Event()

        def read_fast() -> None:
            while not (done.is_set() and len(received) == len(published)):
                received.append(json.loads(fast.recv(timeout=60))["ticks"][0][0])

        reader = threading.Thread(target=read_fast)
        reader.start()
        publisher = RedisPublisher(redis_url, timeout_s=5.0)
        for batch in range(MAX_BATCHES):
            # The fast client is never more than a few batches behind: it can keep up.
            behind = batch - WINDOW
            wait_until(lambda: len(received) >= behind, 60, "the fast client read on")  # noqa: B023
            publisher.ticks(session_id, "BTCUSDT", [(batch, f"{k}.5") for k in range(TICKS)])
            published.append(batch)
            if batch % 50 == 49 and _dropped(base):
                break
        done.set()
        with pytest.raises(ConnectionClosed) as closed:
            _read_until_closed(slow)
        reader.join(timeout=120)
    assert received == published
    assert publisher.dropped == 0
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1013
    assert closed.value.rcvd.reason.startswith("too slow")


def _dropped(base: str) -> bool:
    metrics = httpx.get(f"{base}/metrics", timeout=10).text
    return "velocitas_websocket_slow_clients_dropped_total 1.0" in metrics


def _read_until_closed(ws: ClientConnection) -> None:
    """What reached the client's socket, then the close frame (raises ConnectionClosed)."""
    while True:
        ws.recv(timeout=30)
