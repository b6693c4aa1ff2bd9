"""Trading-session subscriptions on `/ws`: catch-up from the journal, then the live stream.

A subscription never loses or repeats an event. It subscribes to the session's Redis channels
first and buffers what arrives, then reads the journal (`after=SEQ`) in pages, then forwards the
buffered messages whose `seq` is past the last one replayed, then the live ones. A live event
whose `seq` jumps past the next expected one (the publisher dropped some while Redis was away)
makes it read the missing ones from the journal first. Tick batches are not journaled: they are
forwarded as they come (held back only while the catch-up runs).

Everything a connection sends goes through its `Outbox`, a bounded queue drained by one task:
a live message that finds it full marks the client too slow, and the route closes the socket
(1013) instead of letting it hold anyone back.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
import anyio.to_thread
import redis.asyncio as aioredis
from anyio.abc import TaskGroup
from fastapi import WebSocket
from redis.asyncio.client import PubSub
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.exc import SQLAlchemyError

from gateway.telemetry import WEBSOCKET_MESSAGES
from velocitas import embedded
from velocitas.db.engine import session_scope
from velocitas.db.journal import (
    JournaledEvent,
    events_after,
    journal_head,
    session_channel,
    ticks_channel,
)
from velocitas.http_errors import DATABASE_DOWN
from velocitas.sessions.publisher import STREAM_CHANNELS, event_channel

__all__ = ["Outbox", "SessionStreams"]

_SENT = WEBSOCKET_MESSAGES.labels("sent")
_PAGE = 500
"""Journal events read per query while catching up."""
_SUBSCRIBE_TIMEOUT_S = 10.0


class Outbox:
    """The bounded send queue of one connection (module doc)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._send, self._receive = anyio.create_memory_object_stream[str](size)
        self.overflowed = anyio.Event()

    def offer(self, text: str) -> None:
        """Queue a live message; never waits. A full queue marks the client too slow."""
        try:
            self._send.send_nowait(text)
        except anyio.WouldBlock:
            self.overflowed.set()

    async def put(self, text: str) -> None:
        """Queue a replayed message, waiting while the queue is over half full: a long
        catch-up paces itself on the client and leaves room for the live messages."""
        while self._send.statistics().current_buffer_used > self._size // 2:
            await anyio.sleep(0.005)
        self.offer(text)

    async def drain(self, websocket: WebSocket) -> None:
        async for text in self._receive:
            await websocket.send_text(text)
            _SENT.inc()


@dataclass
class _Subscription:
    session_id: uuid.UUID
    channels: frozenset[str]
    last_seq: int = 0
    """The last journaled event handled (sent, or skipped by the channel filter)."""
    held: list[tuple[str, bytes]] | None = None
    """Messages arrived during the catch-up, in order; None once live."""


class SessionStreams:
    """One connection's session subscriptions (`async with`, then `start(tasks)`)."""

    def __init__(self, owner_id: uuid.UUID, outbox: Outbox, redis_url: str | None = None) -> None:
        self._owner_id = owner_id
        self._outbox = outbox
        # No retries inside redis-py: a reconnected pub/sub would hide the gap; the route closes
        # the socket instead and the client resumes with `after=SEQ`.
        self._client = aioredis.Redis.from_url(
            redis_url or embedded.redis_url(), retry=Retry(NoBackoff(), 0)
        )
        self._pubsub: PubSub = self._client.pubsub(ignore_subscribe_messages=False)
        self._subscriptions: dict[uuid.UUID, _Subscription] = {}
        self._routes: dict[str, tuple[_Subscription, str]] = {}  # channel -> (sub, kind)
        self._confirmed: dict[str, anyio.Event] = {}
        self._tasks: TaskGroup | None = None
        self._reading = False

    async def __aenter__(self) -> SessionStreams:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._pubsub.aclose()
        await self._client.aclose()

    def start(self, tasks: TaskGroup) -> None:
        """Run the Redis reader in `tasks` (whose failure ends the connection)."""
        self._tasks = tasks

    @property
    def positions(self) -> dict[str, int]:
        """The last seq handled per subscribed session (for a close reason)."""
        return {str(sub.session_id): sub.last_seq for sub in self._subscriptions.values()}

    async def handle(self, text: str) -> None:
        """Act on one client message (`subscribe` / `unsubscribe`); answer an error otherwise."""
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            return self._error("a message must be a JSON object")
        kind = message.get("type")
        try:
            if kind == "subscribe":
                await self._subscribe(message)
            elif kind == "unsubscribe":
                await self._unsubscribe(message)
            else:
                self._error(f"unknown message type {kind!r}: send subscribe or unsubscribe")
        except SQLAlchemyError:
            self._error(DATABASE_DOWN)

    async def _subscribe(self, message: dict[str, Any]) -> None:
        request = _parse_subscribe(message)
        if isinstance(request, str):
            return self._error(request)
        session_id, channels, after = request
        head = await _run_db(journal_head, session_id, self._owner_id)
        if head is None:
            return self._error(f"session {session_id} not found", session_id)
        if session_id in self._subscriptions:
            await self._drop(self._subscriptions[session_id])
        sub = _Subscription(session_id, channels, held=[])
        self._subscriptions[session_id] = sub
        wanted = {session_channel(session_id): "events"}
        if "ticks" in channels:
            wanted[ticks_channel(session_id)] = "ticks"
        await self._listen(sub, wanted)
        # Subscribed on Redis: from here every event is either in the journal or on its way.
        head = await _run_db(journal_head, session_id, self._owner_id) or 0
        sub.last_seq = head if after is None else after
        self._outbox.offer(
            _dumps({"type": "subscribed", "session": str(session_id), "last_seq": head})
        )
        if after is not None and after < head:
            await self._catch_up(sub, head)
        while sub.held:  # no await between the last check and going live
            channel, data = sub.held.pop(0)
            await self._dispatch(sub, channel, data)
        sub.held = None

    async def _unsubscribe(self, message: dict[str, Any]) -> None:
        session_id = _session_id(message.get("session"))
        sub = self._subscriptions.get(session_id) if session_id else None
        if sub is None:
            return self._error(f"not subscribed to session {message.get('session')}")
        await self._drop(sub)
        self._outbox.offer(_dumps({"type": "unsubscribed", "session": str(sub.session_id)}))

    async def _listen(self, sub: _Subscription, wanted: dict[str, str]) -> None:
        confirmations = []
        for channel, kind in wanted.items():
            self._routes[channel] = (sub, kind)
            self._confirmed[channel] = anyio.Event()
            confirmations.append(self._confirmed[channel])
        await self._pubsub.subscribe(*wanted)
        if not self._reading:
            assert self._tasks is not None, "start() first"
            self._reading = True
            self._tasks.start_soon(self._read)
        with anyio.fail_after(_SUBSCRIBE_TIMEOUT_S):
            for confirmed in confirmations:
                await confirmed.wait()

    async def _drop(self, sub: _Subscription) -> None:
        del self._subscriptions[sub.session_id]
        channels = [ch for ch, (owner, _) in self._routes.items() if owner is sub]
        for channel in channels:
            del self._routes[channel]
        await self._pubsub.unsubscribe(*channels)

    async def _read(self) -> None:
        try:
            async for message in self._pubsub.listen():  # ends when nothing is subscribed
                channel = message["channel"].decode()
                if message["type"] == "subscribe":
                    if channel in self._confirmed:
                        self._confirmed.pop(channel).set()
                elif message["type"] == "message" and channel in self._routes:
                    sub, _ = self._routes[channel]
                    if sub.held is not None:
                        sub.held.append((channel, message["data"]))
                    else:
                        await self._dispatch(sub, channel, message["data"])
        finally:
            self._reading = False

    async def _dispatch(self, sub: _Subscription, channel: str, data: bytes) -> None:
        route = self._routes.get(channel)
        if route is None or route[0] is not sub:
            return  # unsubscribed meanwhile
        if route[1] == "ticks":
            self._outbox.offer(data.decode())
            return
        wire = json.loads(data)
        seq = wire["seq"]
        if seq <= sub.last_seq:
            return  # replayed from the journal already
        if seq > sub.last_seq + 1:  # the publisher dropped some: the journal has them
            await self._catch_up(sub, seq - 1)
        sub.last_seq = seq
        if event_channel(wire["event"]["type"]) in sub.channels:
            self._outbox.offer(
                _event_message(sub.session_id, JournaledEvent(sub.session_id, seq, wire["event"]))
            )

    async def _catch_up(self, sub: _Subscription, through: int) -> None:
        """Send the journal's events after `sub.last_seq` up to `through` (inclusive)."""
        while sub.last_seq < through:
            page = await _run_db(events_after, sub.session_id, sub.last_seq, _PAGE)
            for event in page:
                if event.seq > through:
                    return
                sub.last_seq = event.seq
                if event_channel(event.payload["type"]) in sub.channels:
                    await self._outbox.put(_event_message(sub.session_id, event))
            if len(page) < _PAGE:
                return

    def _error(self, detail: str, session_id: uuid.UUID | None = None) -> None:
        message: dict[str, Any] = {"type": "error", "detail": detail}
        if session_id is not None:
            message["session"] = str(session_id)
        self._outbox.offer(_dumps(message))


def _parse_subscribe(
    message: dict[str, Any],
) -> tuple[uuid.UUID, frozenset[str], int | None] | str:
    """The subscription asked for, or what is wrong with the message (naming the field)."""
    session_id = _session_id(message.get("session"))
    if session_id is None:
        return "session: a session id (UUID) is required"
    channels = message.get("channels", list(STREAM_CHANNELS))
    if (
        not isinstance(channels, list)
        or not channels
        or not all(isinstance(channel, str) for channel in channels)
    ):
        return f"channels: a non-empty list of {', '.join(STREAM_CHANNELS)}"
    unknown = sorted(set(channels) - set(STREAM_CHANNELS))
    if unknown:
        return f"channels: unknown {', '.join(unknown)} (known: {', '.join(STREAM_CHANNELS)})"
    after = message.get("after")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
        return "after: a sequence number >= 0"
    return session_id, frozenset(channels), after


def _session_id(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _event_message(session_id: uuid.UUID, event: JournaledEvent) -> str:
    return _dumps(
        {
            "type": "session.event",
            "seq": event.seq,
            "session": str(session_id),
            "channel": event_channel(event.payload["type"]),
            "event": event.payload,
        }
    )


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


async def _run_db(read: Any, *args: Any) -> Any:
    """`read(db_session, *args)` in a worker thread (the driver blocks)."""

    def run() -> Any:
        with session_scope() as session:
            return read(session, *args)

    return await anyio.to_thread.run_sync(run)
