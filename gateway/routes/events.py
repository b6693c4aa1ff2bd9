"""`GET /ws`: a WebSocket streaming the caller's own job events and trading sessions as JSON.

Authenticate with the `Authorization: Bearer <key>` header, or (browsers cannot set headers on
a WebSocket) with a first message `{"type": "auth", "key": "<key>"}` within 10 seconds. Never
in the URL: URLs end up in access logs. A bad key (wrong, malformed, not printable ASCII)
closes the socket with code 1008 (policy violation); a client that failed too often (10 failed
keys, then one more every 5 s, as over REST) is closed with 1013 (try again later), without its
key being checked. Once subscribed the server sends `{"type": "ready"}`; from then on every
job event of the caller (`velocitas.domain.JobEvent`) arrives unasked.

Trading sessions (docs/sessions.md, "Streaming"): the client sends
`{"type": "subscribe", "session": id, "channels": [...], "after": SEQ}` (`channels` among
ticks, bars, orders, fills, positions, pnl, risk, state, default all; `after` optional) and gets
`{"type": "subscribed", "session": id, "last_seq": n}`, then the journaled events with seq >
`after` as `{"type": "session.event", "seq", "session", "channel", "event"}`, then the live
ones (no gap, no duplicate), and tick batches `{"type": "ticks", "session", "symbol", "ticks":
[[epoch_ms, "price"], ...]}`. `{"type": "unsubscribe", "session": id}` stops one. A session
that is unknown or another user's, or a malformed message, gets `{"type": "error", "detail"}`
(the socket stays open). A client reading slower than its stream is closed with 1013 and
reason "too slow: ..."; a lost Redis subscription closes with 1011: in both cases reconnect
and subscribe again with `after` = the last seq received.
"""

from __future__ import annotations

import logging
from contextlib import suppress

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from redis import RedisError

from gateway.session_stream import Outbox, SessionStreams
from gateway.settings import get_gateway_settings
from gateway.telemetry import (
    SLOW_CLIENTS_DROPPED,
    WEBSOCKET_MESSAGES,
    WEBSOCKETS_OPEN,
    WEBSOCKETS_OPENED,
)
from velocitas.access_log import names_a_secret
from velocitas.db.accounts import User
from velocitas.jobs import subscribe
from velocitas.key_guard import KeyChecker, Refusal, bearer_key, client

router = APIRouter(tags=["events"])
log = logging.getLogger(__name__)

TOO_SLOW = "too slow: dropped from the stream; reconnect and subscribe with after=SEQ"
STREAM_LOST = "event stream interrupted: reconnect and subscribe with after=SEQ"
_READY = '{"type":"ready"}'
_CLOSE_TIMEOUT_S = 30.0

_AUTH_TIMEOUT_S = 10.0
_SENT = WEBSOCKET_MESSAGES.labels("sent")
_RECEIVED = WEBSOCKET_MESSAGES.labels("received")
# A URL naming a key-like parameter (`velocitas.access_log`) is closed unread, with this reason.
_KEY_IN_URL = "API key in the URL refused: send it in the Authorization header or first message"


@router.websocket("/ws")
async def stream_events(websocket: WebSocket) -> None:
    await websocket.accept()
    if names_a_secret(websocket.query_params):  # refused unread; the access log masks it
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=_KEY_IN_URL)
        return
    user = await _authenticate(websocket)
    if isinstance(user, Refusal):
        code = status.WS_1013_TRY_AGAIN_LATER if user.status == 429 else None
        await websocket.close(code=code or status.WS_1008_POLICY_VIOLATION, reason=user.detail)
        return
    WEBSOCKETS_OPENED.inc()
    WEBSOCKETS_OPEN.inc()
    try:
        ending = await _serve(websocket, user)
    finally:
        WEBSOCKETS_OPEN.dec()
    if ending is not None:
        # A slow client gets the close frame once it reads what its socket holds; one that
        # reads nothing any more cannot take it: give up on it then.
        with anyio.move_on_after(_CLOSE_TIMEOUT_S), suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close(code=ending[0], reason=ending[1])


BINARY_FRAME = "(a binary frame)"
"""What a binary frame reads as: not JSON, so the client is told its message was not understood."""


async def _serve(websocket: WebSocket, user: User) -> tuple[int, str] | None:
    """Stream until the client leaves (None) or the server ends it: (code, reason)."""
    outbox = Outbox(get_gateway_settings().ws_send_queue)
    ending: tuple[int, str] | None = None
    try:
        async with subscribe(user.id) as job_events, SessionStreams(user.id, outbox) as sessions:
            outbox.offer(_READY)
            async with anyio.create_task_group() as tasks:
                sessions.start(tasks)

                async def forward_jobs() -> None:
                    async for event in job_events:
                        outbox.offer(event.model_dump_json())

                async def listen() -> None:
                    while True:
                        message = await websocket.receive()
                        if message["type"] == "websocket.disconnect":
                            break
                        _RECEIVED.inc()
                        # A binary frame has no "text": answered like any bad message.
                        await sessions.handle(message.get("text") or BINARY_FRAME)
                    tasks.cancel_scope.cancel()

                async def send() -> None:
                    with suppress(WebSocketDisconnect):
                        await outbox.drain(websocket)
                    tasks.cancel_scope.cancel()

                async def drop_when_too_slow() -> None:
                    nonlocal ending
                    await outbox.overflowed.wait()
                    SLOW_CLIENTS_DROPPED.inc()
                    ending = (status.WS_1013_TRY_AGAIN_LATER, TOO_SLOW)
                    tasks.cancel_scope.cancel()

                for task in (forward_jobs, listen, send, drop_when_too_slow):
                    tasks.start_soon(task)
    except* (RedisError, OSError):
        log.warning("a WebSocket lost its Redis subscription", exc_info=True)
        ending = (status.WS_1011_INTERNAL_ERROR, STREAM_LOST)
    return ending


async def _authenticate(websocket: WebSocket) -> User | Refusal:
    key = bearer_key(websocket.headers.get("authorization"))
    if not key:
        try:
            with anyio.fail_after(_AUTH_TIMEOUT_S):
                message = await websocket.receive_json()
        except (TimeoutError, WebSocketDisconnect, ValueError, KeyError):  # KeyError: binary
            message = None
        if isinstance(message, dict) and message.get("type") == "auth":
            given = message.get("key")
            # Not a string (a number, null) is no key; the checker refuses a key that is not
            # printable ASCII (a NUL, a lone surrogate) before it reaches the database.
            key = given.strip() if isinstance(given, str) else ""
    checker: KeyChecker = websocket.app.state.key_checker
    return await checker.check(key, client(websocket.scope))
