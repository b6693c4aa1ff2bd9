"""`X-Request-ID`: one id per request, from the caller (or nginx) or made here, in every log line.

`RequestId` (plain ASGI, no web framework) keeps a well-formed `X-Request-ID` (1 to 128 of
letters, digits and `-_.:`), replaces a missing or malformed one with a new random one (32 hex
digits: a caller cannot put arbitrary text into the logs), writes it back into the request's
headers (so whatever reads them, the gateway's relay to the oracle and analyst included, sees
the id in force), binds it for the log lines of the request (`velocitas.structured_logs`), and
answers it in the response's `X-Request-ID` header, errors included.
"""

from __future__ import annotations

import re
import uuid

from velocitas.http_limits import ASGIApp, Message, Receive, Scope, Send
from velocitas.structured_logs import bound

__all__ = ["HEADER", "RequestId", "accepted_request_id"]

HEADER = b"x-request-id"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def accepted_request_id(given: str | None) -> str:
    """`given` when it is a well-formed id, else a new one."""
    if given is not None and _WELL_FORMED.fullmatch(given):
        return given
    return uuid.uuid4().hex


class RequestId:
    """Binds each HTTP request's and WebSocket's id (see the module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope.get("headers", ()) if k != HEADER]
        given = next((v for k, v in scope.get("headers", ()) if k == HEADER), None)
        request_id = accepted_request_id(bytes(given).decode("latin-1") if given else None)
        scope["headers"] = [*headers, (HEADER, request_id.encode())]
        raw = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                message["headers"] = [*kept, (HEADER, raw)]
            await send(message)

        with bound(request_id=request_id):
            await self.app(scope, receive, send_with_id)
