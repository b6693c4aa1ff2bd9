"""`GET /ws`: a WebSocket streaming the caller's own job events as JSON.

Authenticate with the `Authorization: Bearer <key>` header, or (browsers cannot set headers on
a WebSocket) with a first message `{"type": "auth", "key": "<key>"}` within 10 seconds. Never
in the URL: URLs end up in access logs. A bad key (wrong, malformed, not printable ASCII)
closes the socket with code 1008 (policy violation); a client that failed too often (10 failed
keys, then one more every 5 s, as over REST) is closed with 1013 (try again later), without its
key being checked. Once subscribed the server sends `{"type": "ready"}`; every later message
is a job event (`velocitas.domain.JobEvent`).
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from gateway.telemetry import WEBSOCKET_MESSAGES, WEBSOCKETS_OPEN, WEBSOCKETS_OPENED
from velocitas.access_log import names_a_secret
from velocitas.db.accounts import User
from velocitas.jobs import subscribe
from velocitas.key_guard import KeyChecker, Refusal, bearer_key, client

router = APIRouter(tags=["events"])

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
        async with subscribe(user.id) as events:
            await websocket.send_json({"type": "ready"})
            _SENT.inc()
            async with anyio.create_task_group() as tasks:

                async def forward() -> None:
                    async for event in events:
                        await websocket.send_text(event.model_dump_json())
                        _SENT.inc()

                tasks.start_soon(forward)
                try:
                    while True:  # the client says nothing more; this notices when it leaves
                        await websocket.receive_text()
                        _RECEIVED.inc()
                except WebSocketDisconnect:
                    pass
                tasks.cancel_scope.cancel()
    finally:
        WEBSOCKETS_OPEN.dec()


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
