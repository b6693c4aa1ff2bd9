"""Body caps and the failed-authentication limiter, as plain ASGI."""

from __future__ import annotations

import asyncio
from typing import Any

from velocitas.http_limits import BodyLimit, FailureLimiter, Message, Receive, Scope, Send


class _Recorder:
    """An application that reads the whole body, then answers 200 with its length."""

    def __init__(self) -> None:
        self.called = False
        self.last_message: Message | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        size = 0
        while True:
            message = await receive()
            self.last_message = message
            if message["type"] == "http.disconnect":
                raise ConnectionError("the client went away")  # as frameworks do
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


def _call(
    app: Any, chunks: list[bytes], *, declared: int | None = None, path: str = "/x"
) -> tuple[int, bytes, int]:
    """Run `app` on a POST of `chunks`; the status, body, and how many chunks it pulled."""
    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        if pulled > len(chunks):
            return {"type": "http.disconnect"}
        return {
            "type": "http.request",
            "body": chunks[pulled - 1],
            "more_body": pulled < len(chunks),
        }

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert len([m for m in sent if m["type"] == "http.response.start"]) == 1
    return start["status"], body, pulled


def test_body_limit_passes_a_body_within_the_cap() -> None:
    app = BodyLimit(_Recorder(), limit=10, setting="MAX_BODY_BYTES")
    assert _call(app, [b"12345", b"67890"], declared=10)[:2] == (200, b"10")


def test_body_limit_refuses_a_declared_length_past_the_cap_without_reading() -> None:
    inner = _Recorder()
    app = BodyLimit(inner, limit=10, setting="MAX_BODY_BYTES")
    status, body, pulled = _call(app, [b"x" * 11], declared=11)
    assert (status, pulled, inner.called) == (413, 0, False)
    assert b"11 bytes; the limit is 10 (MAX_BODY_BYTES)" in body


def test_body_limit_stops_a_streamed_body_at_the_cap() -> None:
    inner = _Recorder()
    app = BodyLimit(inner, limit=10, setting="MAX_BODY_BYTES")
    status, body, pulled = _call(app, [b"x" * 6] * 1000)  # chunked: no length declared
    assert status == 413
    assert pulled == 2  # not one chunk past the one that crossed the cap
    assert inner.last_message == {"type": "http.disconnect"}
    assert b"more than 10 bytes" in body


def test_body_limit_applies_a_route_cap() -> None:
    routes = {("POST", "/bars"): (100, "MAX_UPLOAD_BYTES")}
    app = BodyLimit(_Recorder(), limit=10, setting="MAX_BODY_BYTES", routes=routes)
    assert _call(app, [b"x" * 50], declared=50, path="/bars")[0] == 200
    status, body, _ = _call(app, [b"x" * 101], declared=101, path="/bars")
    assert (status, b"MAX_UPLOAD_BYTES" in body) == (413, True)
    assert _call(app, [b"x" * 50], declared=50, path="/other")[0] == 413


def test_failure_limiter_allows_a_burst_then_says_when_to_retry() -> None:
    now = [0.0]
    limiter = FailureLimiter(capacity=10, refill_per_s=0.2, clock=lambda: now[0])
    for _ in range(10):
        assert limiter.retry_after("1.2.3.4") is None
        limiter.record_failure("1.2.3.4")
    assert limiter.retry_after("1.2.3.4") == 5
    assert limiter.retry_after("5.6.7.8") is None  # another client has its own allowance
    now[0] = 5.0
    assert limiter.retry_after("1.2.3.4") is None  # one more every 5 s
    limiter.record_failure("1.2.3.4")
    assert limiter.retry_after("1.2.3.4") == 5


def test_failure_limiter_forgets_clients_when_full() -> None:
    limiter = FailureLimiter(capacity=1, refill_per_s=1.0, max_clients=3, clock=lambda: 0.0)
    for n in range(10):
        limiter.record_failure(f"client-{n}")
    assert limiter.retry_after("client-9") == 1  # the newest is still counted
