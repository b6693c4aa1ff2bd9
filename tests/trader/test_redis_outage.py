"""Redis killed and restarted while a trader runs a session: the session keeps running and
journaling (the journal is PostgreSQL's; publishing is best effort), and its events reach
subscribers again once Redis is back. A private Redis (tests/reliability/servers.py)."""

from __future__ import annotations

import json
import time

import pytest
import redis

from tests.reliability.servers import PrivateRedis
from tests.support.waiting import wait_until
from tests.trader.conftest import TradersFactory, session_factory
from tests.trader.reference import payloads, uninterrupted_journal
from tests.trader.sessions import journal, make_session, row
from velocitas.db.journal import session_channel
from velocitas.sessions import publisher

pytestmark = [
    pytest.mark.slow,
    pytest.mark.reliability,
    pytest.mark.skipif(
        not hasattr(publisher, "RedisPublisher"),
        reason="the trader publishes on Redis once the streaming's RedisPublisher is merged",
    ),
]

BARS = 300


def _next_seq(subscription: redis.client.PubSub, timeout: float) -> int | None:
    message = subscription.get_message(ignore_subscribe_messages=True, timeout=timeout)
    if message is None:
        return None
    seq: int = json.loads(message["data"])["seq"]
    return seq


def test_a_redis_restart_neither_stops_the_session_nor_the_stream_for_long(
    database_url: str, private_redis: PrivateRedis, traders: TradersFactory
) -> None:
    sessions = session_factory()
    with sessions.begin() as db:
        session_id = make_session(db, bars_total=BARS)

    def bars_done() -> int:
        with sessions.begin() as db:
            return row(db, session_id).bars_done

    def row_state() -> str:
        with sessions.begin() as db:
            return row(db, session_id).state

    def subscribed() -> redis.client.PubSub:
        subscription = redis.Redis.from_url(private_redis.url).pubsub()
        subscription.subscribe(session_channel(session_id))
        return subscription

    before = subscribed()
    traders(database_url, "only", REDIS_URL=private_redis.url, STUB_STEP_S="0.05")
    assert wait_until(lambda: _next_seq(before, 1.0), 120, "an event was published")

    private_redis.kill()
    down_at = bars_done()
    wait_until(lambda: bars_done() >= down_at + 10, 60, "10 bars journaled with Redis down")
    time.sleep(0.5)  # the rest of the outage
    private_redis.start()
    back_at = bars_done()

    after = subscribed()
    seq = wait_until(lambda: _next_seq(after, 1.0), 60, "events published again")
    assert seq > back_at  # a live event journaled after Redis came back

    wait_until(
        lambda: bars_done() >= BARS and row_state() == "finished", 120, "the session finished"
    )
    with sessions.begin() as db:
        assert payloads(journal(db, session_id)) == uninterrupted_journal(sessions, BARS)
