"""`GET /ws`: authenticated by header or first message (never the URL), own events only."""

from __future__ import annotations

import uuid
from typing import NamedTuple

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.gateway.conftest import Account
from velocitas.domain.events import JobEvent, JobEventType
from velocitas.jobs import publish


class _Job(NamedTuple):
    id: uuid.UUID
    owner_id: uuid.UUID
    kind: str


def _event(owner: Account, type_: JobEventType = "job.running") -> JobEvent:
    return JobEvent.of(_Job(uuid.uuid4(), owner.id, "backtest"), type_, progress=0.25)


def test_ws_header_auth_streams_own_events(client: TestClient, alice: Account) -> None:
    with client.websocket_connect("/ws", headers=alice.headers) as ws:
        assert ws.receive_json() == {"type": "ready"}
        sent = _event(alice)
        publish(sent)
        received = ws.receive_json()
    assert JobEvent.model_validate(received) == sent


def test_ws_first_message_auth_streams_own_events(client: TestClient, alice: Account) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "auth", "key": alice.key})
        assert ws.receive_json() == {"type": "ready"}
        sent = _event(alice, "job.succeeded")
        publish(sent)
        assert ws.receive_json()["job_id"] == str(sent.job_id)


@pytest.mark.parametrize(
    "first_message",
    [
        {"type": "auth", "key": "vk_AAAAAAAA_wrong"},
        {"type": "auth", "key": "vk_AAAAAAAA_\ud800\u0000"},
        {"type": "hello"},
        {"key": None},
    ],
    ids=["bad-key", "surrogate-and-nul", "not-auth", "no-key"],
)
def test_ws_bad_auth_closes_1008(
    client: TestClient, alice: Account, first_message: dict[str, object]
) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_json(first_message)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008


def test_ws_key_in_query_string_is_not_accepted(client: TestClient, alice: Account) -> None:
    with client.websocket_connect(f"/ws?key={alice.key}&api_key={alice.key}") as ws:
        ws.send_json({"type": "hello"})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008


def test_ws_never_forwards_another_users_events(
    client: TestClient, alice: Account, bob: Account
) -> None:
    with client.websocket_connect("/ws", headers=bob.headers) as ws:
        assert ws.receive_json() == {"type": "ready"}
        publish(_event(alice))
        own = _event(bob)
        publish(own)
        # Redis delivers in publish order: had alice's event been forwarded, it came first.
        assert ws.receive_json()["job_id"] == str(own.job_id)


def test_ws_after_ten_failed_keys_closes_1013_without_checking(client: TestClient) -> None:
    codes = []
    for attempt in range(11):
        with client.websocket_connect("/ws") as ws:
            ws.send_json({"type": "auth", "key": f"vk_AAAAAAAA_wrong{attempt}"})
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        codes.append(closed.value.code)
    assert codes == [1008] * 10 + [1013]
