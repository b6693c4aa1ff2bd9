"""`GET /ws`: a WebSocket streaming the caller's own job events as JSON.

Authenticate with the `Authorization: Bearer <key>` header, or (browsers cannot set headers on
a WebSocket) with a first message `{"type": "auth", "key": "<key>"}` within 10 seconds. Never
in the URL: URLs end up in access logs. A bad key (wrong, malformed, not printable ASCII)
closes the socket with code 1008 (policy violation) and the reason "invalid API key". Once
subscribed the server sends `{"type": "ready"}`; every later message is a job event
(`velocitas.domain.JobEvent`).
"""

from __future__ import annotations

import re

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from fastapi.concurrency import run_in_threadpool

from gateway.deps import user_for_key
from velocitas.db.accounts import User
from velocitas.jobs import subscribe

router = APIRouter(tags=["events"])

_AUTH_TIMEOUT_S = 10.0
_KEY = re.compile(r"[!-~]{1,512}")


@router.websocket("/ws")
async def stream_events(websocket: WebSocket) -> None:
    await websocket.accept()
    user = await _authenticate(websocket)
    if user is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="invalid API key")
        return
    async with subscribe(user.id) as events:
        await websocket.send_json({"type": "ready"})
        async with anyio.create_task_group() as tasks:

            async def forward() -> None:
                async for event in events:
                    await websocket.send_text(event.model_dump_json())

            tasks.start_soon(forward)
            try:
                while True:  # the client says nothing more; this notices when it leaves
                    await websocket.receive_text()
            except WebSocketDisconnect:
                pass
            tasks.cancel_scope.cancel()


async def _authenticate(websocket: WebSocket) -> User | None:
    header = websocket.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if not (scheme.lower() == "bearer" and key):
        try:
            with anyio.fail_after(_AUTH_TIMEOUT_S):
                message = await websocket.receive_json()
        except (
            TimeoutError,
            WebSocketDisconnect,
            ValueError,
            KeyError,
        ):  # KeyError: a binary frame
            return None
        if not isinstance(message, dict) or message.get("type") != "auth":
            return None
        given = message.get("key")
        if not isinstance(given, str):
            return None
        key = given
    key = key.strip()
    # A key is printable ASCII; anything else (a NUL, a lone surrogate) can match no key and
    # must not reach the database, which cannot even store it.
    if not _KEY.fullmatch(key):
        return None
    return await run_in_threadpool(user_for_key, key)
