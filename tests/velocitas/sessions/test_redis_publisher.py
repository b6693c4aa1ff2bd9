"""`RedisPublisher`: the wire format on the session's channels, and never a raise when Redis is
away (a session must keep running and journaling through an outage)."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.reliability.servers import PrivateRedis
from tests.support.waiting import wait_until
from velocitas.db.journal import JournaledEvent, session_channel, ticks_channel, wire_message
from velocitas.sessions.publisher import RedisPublisher, event_channel


def _event(session_id: uuid.UUID, seq: int) -> JournaledEvent:
    return JournaledEvent(session_id, seq, {"type": "fill", "v": 1, "fill_no": seq})


def _listener(url: str, *channels: str) -> redis.client.PubSub:
    pubsub = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(*channels)
    probe = redis.Redis.from_url(url)  # its own pool: closing it leaves the listener's alone
    wait_until(lambda: all(n for _, n in probe.pubsub_numsub(*channels)), 10, "subscribed")
    probe.close()
    return pubsub


def _received(pubsub: redis.client.PubSub, count: int) -> list[tuple[str, str]]:
    got: list[tuple[str, str]] = []

    def more() -> bool:
        message = pubsub.get_message(timeout=0.1)
        if message is not None:
            got.append((message["channel"].decode(), message["data"].decode()))
        return len(got) >= count

    wait_until(more, 10, f"{count} messages arrived")
    return got


def test_events_and_ticks_are_published_on_the_sessions_channels(redis_url: str) -> None:
    session_id = uuid.uuid4()
    listener = _listener(redis_url, session_channel(session_id), ticks_channel(session_id))
    publisher = RedisPublisher(redis_url)
    events = [_event(session_id, seq) for seq in (1, 2, 3)]
    publisher.events(events)
    publisher.ticks(session_id, "BTCUSDT", [(1_000, "100.5"), (2_000, "100.25")])
    received = _received(listener, 4)
    assert received[:3] == [(session_channel(session_id), wire_message(e)) for e in events]
    channel, text = received[3]
    assert channel == ticks_channel(session_id)
    assert json.loads(text) == {
        "type": "ticks",
        "session": str(session_id),
        "symbol": "BTCUSDT",
        "ticks": [[1_000, "100.5"], [2_000, "100.25"]],
    }
    assert publisher.dropped == 0


def test_publisher_never_raises_when_redis_is_unreachable(tmp_path: Path) -> None:
    publisher = RedisPublisher(f"unix://{tmp_path}/no-redis.socket")
    session_id = uuid.uuid4()
    for seq in range(1, 6):
        publisher.events([_event(session_id, seq)])
        publisher.ticks(session_id, "BTCUSDT", [(seq, "1.0")])
    assert publisher.dropped == 10


@pytest.fixture
def killable_redis() -> Iterator[PrivateRedis]:
    directory = Path(tempfile.mkdtemp(prefix="vps-"))  # a Unix socket path must stay short
    server = PrivateRedis(directory)
    server.start()
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.slow
def test_publisher_resumes_after_redis_is_restarted(killable_redis: PrivateRedis) -> None:
    session_id = uuid.uuid4()
    publisher = RedisPublisher(killable_redis.url, retry_after_s=0.05, max_retry_after_s=0.2)
    publisher.events([_event(session_id, 1)])
    killable_redis.kill()
    for seq in range(2, 12):  # the outage: dropped, never raised
        publisher.events([_event(session_id, seq)])
    assert publisher.dropped == 10
    killable_redis.start()
    listener = _listener(killable_redis.url, session_channel(session_id))
    seq = iter(range(12, 10_000))

    def delivered() -> bool:
        publisher.events([_event(session_id, next(seq))])
        return listener.get_message(timeout=0.05) is not None

    wait_until(delivered, 30, "a message published after the restart arrived")


@pytest.mark.parametrize(
    ("event_type", "channel"),
    [
        ("bar.closed", "bars"),
        ("bars.closed", "bars"),
        ("signal", "bars"),
        ("order.new", "orders"),
        ("order.filled", "orders"),
        ("fill", "fills"),
        ("position.changed", "positions"),
        ("pnl", "pnl"),
        ("risk.killed", "risk"),
        ("session.state", "state"),
        ("something.new", "state"),
    ],
)
def test_event_channel_follows_the_event_type(event_type: str, channel: str) -> None:
    assert event_channel(event_type) == channel
