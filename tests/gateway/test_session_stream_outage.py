"""Redis killed and restarted during a session's stream: the publisher never raises, the
journal keeps growing, `/ws` closes with 1011, and a client that reconnects with `after=SEQ`
misses nothing once Redis is back. A Redis of the test's own (the shared one must stay up)."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.main import create_app
from tests.gateway.conftest import Account
from tests.gateway.session_journal import fill, journal, open_session, state
from tests.reliability.servers import PrivateRedis
from tests.support.waiting import wait_until
from velocitas.db.journal import session_channel
from velocitas.sessions.publisher import RedisPublisher
from velocitas.settings import get_settings

pytestmark = [pytest.mark.slow, pytest.mark.reliability, pytest.mark.timeout(300)]


@pytest.fixture
def killable_redis(platform_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateRedis]:
    directory = Path(tempfile.mkdtemp(prefix="vss-"))  # a Unix socket path must stay short
    server = PrivateRedis(directory)
    server.start()
    monkeypatch.setenv("REDIS_URL", server.url)
    get_settings.cache_clear()
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)


def test_stream_recovers_after_redis_restart_and_misses_nothing(
    killable_redis: PrivateRedis, make_account: Callable[..., Account]
) -> None:
    alice = make_account("alice")
    session_id = open_session(alice.id)
    publisher = RedisPublisher(killable_redis.url, retry_after_s=0.05, max_retry_after_s=0.2)
    seen: list[int] = []
    with TestClient(create_app()) as client:
        with client.websocket_connect("/ws", headers=alice.headers) as ws:
            assert ws.receive_json() == {"type": "ready"}
            ws.send_json({"type": "subscribe", "session": str(session_id), "after": 0})
            assert ws.receive_json()["type"] == "subscribed"
            journal(session_id, [fill(i) for i in range(1, 6)], publisher)
            seen += [ws.receive_json()["seq"] for _ in range(5)]
            killable_redis.kill()
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        for i in range(6, 16):  # the session runs on: journaled, published into the void
            journal(session_id, [fill(i)], publisher)
        assert publisher.dropped >= 10
        killable_redis.start()
        _wait_until_published_again(killable_redis.url, session_id, publisher)
        with client.websocket_connect("/ws", headers=alice.headers) as ws:
            assert ws.receive_json() == {"type": "ready"}
            ws.send_json({"type": "subscribe", "session": str(session_id), "after": seen[-1]})
            head = ws.receive_json()["last_seq"]
            journal(session_id, [state("live again")], publisher)
            seen += [ws.receive_json()["seq"] for _ in range(head + 1 - seen[-1])]
    assert closed.value.code == 1011
    assert closed.value.reason.startswith("event stream interrupted")
    assert head > 15
    assert seen == list(range(1, head + 2))


def _wait_until_published_again(url: str, session_id: uuid.UUID, publisher: RedisPublisher) -> None:
    """Journal-and-publish probes until one is heard on Redis (they are journaled like any
    event, so the client gets them too)."""
    listener = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(session_channel(session_id))

    def heard() -> bool:
        journal(session_id, [state("probe")], publisher)
        return listener.get_message(timeout=0.1) is not None

    wait_until(heard, 60, "an event published after the restart was heard")
    listener.close()
