"""`/ws` session subscriptions: journal catch-up then live, no gap, no duplicate; channels;
tick batches; owner-scoped. Real PostgreSQL and Redis; events journaled with `append_events`
and published by `RedisPublisher`, as the trader does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from tests.gateway.conftest import Account
from tests.gateway.session_journal import bar, fill, journal, open_session, state
from velocitas.domain.events import JobEvent
from velocitas.jobs import publish
from velocitas.sessions.publisher import RedisPublisher

pytestmark = pytest.mark.timeout(120)  # a message that never comes fails, not hangs


class _Job(NamedTuple):
    id: uuid.UUID
    owner_id: uuid.UUID
    kind: str


@pytest.fixture
def publisher(redis_url: str) -> Iterator[RedisPublisher]:
    made = RedisPublisher(redis_url)
    yield made
    made.close()


def _subscribe(ws: WebSocketTestSession, session_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
    ws.send_json({"type": "subscribe", "session": str(session_id), **fields})
    answer: dict[str, Any] = ws.receive_json()
    return answer


def _connected(client: TestClient, account: Account) -> Any:
    ws = client.websocket_connect("/ws", headers=account.headers)
    return ws


def _seqs(ws: WebSocketTestSession, count: int) -> list[int]:
    messages = [ws.receive_json() for _ in range(count)]
    assert {m["type"] for m in messages} == {"session.event"}, messages
    return [m["seq"] for m in messages]


def test_subscribed_client_receives_journaled_events_live(
    client: TestClient, alice: Account, publisher: RedisPublisher
) -> None:
    session_id = open_session(alice.id)
    journal(session_id, [state("before")], publisher)  # before the subscription: not sent
    with _connected(client, alice) as ws:
        assert ws.receive_json() == {"type": "ready"}
        assert _subscribe(ws, session_id) == {
            "type": "subscribed",
            "session": str(session_id),
            "last_seq": 1,
        }
        sent = journal(session_id, [bar(0), fill(1), state("after")], publisher)
        received = [ws.receive_json() for _ in sent]
    assert received == [
        {
            "type": "session.event",
            "seq": event.seq,
            "session": str(session_id),
            "channel": channel,
            "event": event.payload,
        }
        for event, channel in zip(sent, ["bars", "fills", "state"], strict=True)
    ]


def test_reconnect_with_after_gets_exactly_the_missed_events_then_live(
    client: TestClient, alice: Account, publisher: RedisPublisher
) -> None:
    session_id = open_session(alice.id)
    with _connected(client, alice) as ws:
        ws.receive_json()
        _subscribe(ws, session_id, after=0)
        journal(session_id, [bar(i) for i in range(3)], publisher)
        assert _seqs(ws, 3) == [1, 2, 3]
    journal(session_id, [bar(i) for i in range(3, 8)], publisher)  # missed: nobody listens
    with _connected(client, alice) as ws:
        ws.receive_json()
        assert _subscribe(ws, session_id, after=3)["last_seq"] == 8
        journal(session_id, [fill(9), fill(10)], publisher)
        assert _seqs(ws, 7) == [4, 5, 6, 7, 8, 9, 10]
        journal(session_id, [state("sentinel")], publisher)
        sentinel = ws.receive_json()
    assert sentinel["seq"] == 11  # nothing repeated before it


def test_catch_up_longer_than_a_page_arrives_whole_and_in_order(
    client: TestClient, alice: Account, publisher: RedisPublisher
) -> None:
    session_id = open_session(alice.id)
    journal(session_id, [bar(i) for i in range(1200)])  # > 2 pages of 500
    with _connected(client, alice) as ws:
        ws.receive_json()
        _subscribe(ws, session_id, after=0)
        journal(session_id, [state("live")], publisher)
        assert _seqs(ws, 1201) == list(range(1, 1202))


def test_live_gap_is_filled_from_the_journal(
    client: TestClient, alice: Account, publisher: RedisPublisher
) -> None:
    session_id = open_session(alice.id)
    with _connected(client, alice) as ws:
        ws.receive_json()
        _subscribe(ws, session_id)
        journal(session_id, [fill(1), fill(2)])  # committed, never published (Redis away)
        journal(session_id, [fill(3)], publisher)
        assert _seqs(ws, 3) == [1, 2, 3]


def test_tick_batches_arrive_intact(
    client: TestClient, alice: Account, publisher: RedisPublisher
) -> None:
    session_id = open_session(alice.id)
    batches = [
        [(1_704_067_200_000 + 1000 * (10 * b + k), f"{100 + b}.{k:08d}") for k in range(10)]
        for b in range(5)
    ]
    with _connected(client, alice) as ws:
        ws.receive_json()
        _subscribe(ws, session_id, channels=["ticks"])
        for ticks in batches:
            publisher.ticks(session_id, "ETHUSDT", ticks)
        received = [ws.receive_json() for _ in batches]
    assert received == [
        {
            "type": "ticks",
            "session": str(session_id),
            "symbol": "ETHUSDT",
            "ticks": [[at, price] for at, price in ticks],
        }
        for ticks in batches
    ]


def test_channel_filter_sends_only_the_channels_asked_for(
    client: TestClient, alice: Account, publisher: RedisPublisher
) -> None:
    session_id = open_session(alice.id)
    journal(session_id, [bar(0), fill(1)])
    with _connected(client, alice) as ws:
        ws.receive_json()
        _subscribe(ws, session_id, channels=["fills"], after=0)
        publisher.ticks(session_id, "BTCUSDT", [(1, "1.0")])  # not asked for
        journal(session_id, [bar(2), state("x"), fill(3), bar(4), fill(5)], publisher)
        received = [ws.receive_json() for _ in range(3)]
    assert [(m["seq"], m["channel"]) for m in received] == [
        (2, "fills"),
        (5, "fills"),
        (7, "fills"),
    ]


def test_another_users_or_unknown_session_is_refused_and_the_socket_stays_open(
    client: TestClient, alice: Account, bob: Account, publisher: RedisPublisher
) -> None:
    alices = open_session(alice.id)
    bobs = open_session(bob.id)
    journal(alices, [fill(1)])
    with _connected(client, bob) as ws:
        ws.receive_json()
        refused = _subscribe(ws, alices, after=0)
        unknown = uuid.uuid4()
        assert _subscribe(ws, unknown)["detail"] == f"session {unknown} not found"
        journal(alices, [fill(2)], publisher)
        assert _subscribe(ws, bobs)["type"] == "subscribed"
        journal(bobs, [state("own")], publisher)
        own = ws.receive_json()  # had alice's events been forwarded, they came first
    assert refused == {
        "type": "error",
        "detail": f"session {alices} not found",
        "session": str(alices),
    }
    assert (own["session"], own["seq"]) == (str(bobs), 1)


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "subscribe"}, "session"),
        ({"type": "subscribe", "session": "nope"}, "session"),
        ({"type": "subscribe", "session": "SID", "channels": ["ticks", "news"]}, "channels"),
        ({"type": "subscribe", "session": "SID", "channels": []}, "channels"),
        ({"type": "subscribe", "session": "SID", "after": -1}, "after"),
        ({"type": "subscribe", "session": "SID", "after": "3"}, "after"),
        ({"type": "subscribe", "session": "SID", "after": True}, "after"),
        ({"type": "unsubscribe", "session": "SID"}, "not subscribed"),
        ({"type": "dance"}, "unknown message type"),
    ],
)
def test_bad_messages_get_an_error_naming_the_field(
    client: TestClient, alice: Account, message: dict[str, Any], field: str
) -> None:
    session_id = str(open_session(alice.id))
    with _connected(client, alice) as ws:
        ws.receive_json()
        ws.send_json({k: session_id if v == "SID" else v for k, v in message.items()})
        answer = ws.receive_json()
        assert _subscribe(ws, uuid.UUID(session_id))["type"] == "subscribed"  # still open
    assert answer["type"] == "error"
    assert answer["detail"].startswith(field)


def test_unsubscribe_stops_that_session_only(
    client: TestClient, alice: Account, publisher: RedisPublisher
) -> None:
    first, second = open_session(alice.id), open_session(alice.id)
    with _connected(client, alice) as ws:
        ws.receive_json()
        _subscribe(ws, first)
        _subscribe(ws, second)
        ws.send_json({"type": "unsubscribe", "session": str(first)})
        assert ws.receive_json() == {"type": "unsubscribed", "session": str(first)}
        journal(first, [fill(1)], publisher)
        journal(second, [fill(1)], publisher)
        received = ws.receive_json()
    assert received["session"] == str(second)


def test_job_events_keep_flowing_beside_a_session(
    client: TestClient, alice: Account, publisher: RedisPublisher
) -> None:
    session_id = open_session(alice.id)
    job = JobEvent.of(_Job(uuid.uuid4(), alice.id, "backtest"), "job.running", progress=0.5)
    with _connected(client, alice) as ws:
        ws.receive_json()
        _subscribe(ws, session_id)
        publish(job)
        journal(session_id, [fill(1)], publisher)
        received = [ws.receive_json() for _ in range(2)]
    assert received[0]["job_id"] == str(job.job_id)
    assert (received[1]["type"], received[1]["seq"]) == ("session.event", 1)


def test_subscribing_again_replaces_the_channels(
    client: TestClient, alice: Account, publisher: RedisPublisher
) -> None:
    session_id = open_session(alice.id)
    with _connected(client, alice) as ws:
        ws.receive_json()
        _subscribe(ws, session_id, channels=["ticks"])
        assert _subscribe(ws, session_id, channels=["fills"])["type"] == "subscribed"
        publisher.ticks(session_id, "BTCUSDT", [(1, "1.5")])  # no longer asked for
        journal(session_id, [fill(1)], publisher)
        received = ws.receive_json()
    assert (received["channel"], received["seq"]) == ("fills", 1)


def test_a_binary_frame_is_answered_as_a_bad_message_and_the_socket_stays_open(
    client: TestClient, alice: Account
) -> None:
    session_id = open_session(alice.id)
    with _connected(client, alice) as ws:
        ws.receive_json()
        ws.send_bytes(b'{"type": "subscribe"}')
        answer = ws.receive_json()
        assert _subscribe(ws, session_id)["type"] == "subscribed"  # still open
    assert answer["type"] == "error"
