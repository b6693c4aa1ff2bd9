"""Routes the gateway only relays, answered in plain ASGI ahead of FastAPI's router.

`POST /predict` is the oracle's answer to the caller's body: the gateway neither reads nor
validates it (the oracle does, and names the field in its 422). Routing and dependency solving
cost the gateway's event loop more than the oracle spends answering, so `ProxyRoutes` forwards
such a request itself: after `KeyGuard` (401 without a valid key, nothing sent on) and
`BodyLimit` (413 over the route's cap), it sends the method, path, query, body and the caller's
`Authorization` and `Content-Type` to the service and relays its status, body and Content-Type
(503/504 from `Upstream` when it has none). The FastAPI route stays: it documents the route in
the OpenAPI schema, and answers if a request ever reaches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.upstream import Upstream
from velocitas.http_limits import ASGIApp, Receive, Scope, Send
from velocitas.key_guard import scope_user

__all__ = ["ProxyRoutes", "Relayed"]

_FORWARDED = (b"authorization", b"content-type")


@dataclass(frozen=True, slots=True)
class Relayed:
    """A route answered by the service `app.state.<service>` at the same path."""

    service: str


class ProxyRoutes:
    """Relays `routes[(METHOD, path)]` to their services (see the module doc); the upstreams
    are looked up in `state` (the app's, filled by its lifespan) per request."""

    def __init__(
        self, app: ASGIApp, *, routes: Mapping[tuple[str, str], Relayed], state: Any
    ) -> None:
        self.app = app
        self.routes = dict(routes)
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if route is None or scope_user(scope) is None:  # not ours, or not authenticated here
            await self.app(scope, receive, send)
            return
        body = await _whole_body(receive)
        if body is None:  # the caller left, or BodyLimit answered 413
            return
        upstream: Upstream = getattr(self.state, route.service)
        query = scope["query_string"]
        target = scope["path"].encode() + (b"?" + query if query else b"")
        headers = [(name, value) for name, value in scope["headers"] if name in _FORWARDED]
        reply = await upstream.call(scope["method"].encode(), target, headers, body)
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [
                    (b"content-type", reply.content_type or b"application/json"),
                    (b"content-length", b"%d" % len(reply.body)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": reply.body})


async def _whole_body(receive: Receive) -> bytes | None:
    """The request's body, or None when the client disconnected first."""
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)
