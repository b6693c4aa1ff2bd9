"""Limits every HTTP service puts on its callers, as plain ASGI (no web framework imported).

- `BodyLimit` refuses a request body past its route's cap with 413 before the application reads
  it: at once when `Content-Length` says so, else as soon as the streamed (chunked) body passes
  the cap. The application then sees the client as gone, and whatever it answers is dropped.
- `FailureLimiter` counts failed authentications per client in a token bucket: `capacity`
  failures at once, then one more every `1 / refill_per_s` seconds; past that the caller is
  told how long to wait (429 with `Retry-After`).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

__all__ = [
    "ASGIApp",
    "BodyLimit",
    "FailureLimiter",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "header",
    "send_json",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of request header `name` (lower case), decoded as latin-1, or None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def send_json(
    send: Send, status: int, body: Mapping[str, Any], headers: Iterable[tuple[str, str]] = ()
) -> None:
    """Answer with `body` as JSON (the platform's error shape is `{"detail": ...}`)."""
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    """Caps request bodies: `limit` bytes (named by the environment variable `setting` in the
    413's message), or per route `routes[(METHOD, path)] = (limit, setting)`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        setting: str,
        routes: Mapping[tuple[str, str], tuple[int, str]] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.setting = setting
        self.routes = dict(routes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.routes.get(
            (scope["method"], scope["path"]), (self.limit, self.setting)
        )
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, f"{declared} bytes", limit, setting)
            return
        received = 0
        refused = False  # we answered 413: the application's own answer goes nowhere
        started = False

        async def capped_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started:
                        refused = True
                        await _too_large(send, f"more than {limit} bytes", limit, setting)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not refused:  # an application cut off mid-body may fail as it likes: we answered
                raise


async def _too_large(send: Send, size: str, limit: int, setting: str) -> None:
    detail = f"the request body is {size}; the limit is {limit} ({setting})"
    await send_json(send, 413, {"detail": detail}, [("connection", "close")])


class FailureLimiter:
    """Failed authentications per client (an IP address): a token bucket of `capacity` failures,
    refilled at `refill_per_s`. Ask `retry_after` before checking a key, `record_failure` after
    a bad one: a good key costs the client nothing."""

    def __init__(
        self,
        capacity: int = 10,
        refill_per_s: float = 0.2,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(capacity)
        self.refill_per_s = refill_per_s
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, updated_at)
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """None while `client` may still fail, else the whole seconds until it may again."""
        with self._lock:
            tokens = self._tokens(client, self._clock())
        if tokens >= 1.0:
            return None
        return max(1, math.ceil((1.0 - tokens) / self.refill_per_s))

    def record_failure(self, client: str) -> None:
        """Spend one of `client`'s failures."""
        with self._lock:
            now = self._clock()
            if client not in self._buckets and len(self._buckets) >= self.max_clients:
                self._forget_full_buckets(now)
            self._buckets[client] = (max(0.0, self._tokens(client, now) - 1.0), now)

    def _tokens(self, client: str, now: float) -> float:
        tokens, updated_at = self._buckets.get(client, (self.capacity, now))
        return min(self.capacity, tokens + (now - updated_at) * self.refill_per_s)

    def _forget_full_buckets(self, now: float) -> None:
        # A full bucket is the same as none: dropping them bounds memory under many clients.
        for client in [c for c in self._buckets if self._tokens(c, now) >= self.capacity]:
            del self._buckets[client]
        if len(self._buckets) >= self.max_clients:
            self._buckets.clear()
