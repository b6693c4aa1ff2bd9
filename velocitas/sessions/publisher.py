"""How a session's news leaves the process: journaled events and tick batches for subscribers.

The trader (and the gateway, for the transitions and orders it journals) publishes through a
`SessionPublisher` after each commit. Publishing is best effort by design: the journal is the
record, a subscriber that missed a message reads it back with `after=SEQ`, so a publisher never
raises (a Redis outage must not stop a session) and never blocks the session for long.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from velocitas import embedded
from velocitas.db.journal import JournaledEvent, session_channel, ticks_channel, wire_message

__all__ = [
    "STREAM_CHANNELS",
    "NullPublisher",
    "RecordingPublisher",
    "RedisPublisher",
    "SessionPublisher",
    "Tick",
    "event_channel",
    "tick_message",
]

log = logging.getLogger(__name__)

STREAM_CHANNELS = ("ticks", "bars", "orders", "fills", "positions", "pnl", "risk", "state")
"""What a `/ws` client may subscribe to; every one but `ticks` is a family of journaled events."""

_CHANNEL_OF_TYPE = {
    "bar.closed": "bars",
    "bars.closed": "bars",
    "signal": "bars",
    "fill": "fills",
    "position.changed": "positions",
    "pnl": "pnl",
    "session.state": "state",
}
_CHANNEL_OF_FAMILY = {"order": "orders", "risk": "risk"}


def event_channel(event_type: str) -> str:
    """The stream channel of a journaled event's `type` (`order.filled` -> `orders`); an
    event type this version does not know travels on `state`, so nobody loses it silently."""
    channel = _CHANNEL_OF_TYPE.get(event_type)
    if channel is None:
        channel = _CHANNEL_OF_FAMILY.get(event_type.partition(".")[0], "state")
    return channel


Tick = tuple[int, str]
"""One tick on the wire: (epoch milliseconds, price as a decimal string)."""


class SessionPublisher(Protocol):
    def events(self, journaled: Sequence[JournaledEvent]) -> None:
        """Announce events already committed to the journal (channel `session:{id}`)."""

    def ticks(self, session_id: uuid.UUID, symbol: str, ticks: Sequence[Tick]) -> None:
        """Announce one batch of ticks of `symbol` (channel `session:{id}:ticks`)."""


class NullPublisher:
    """Publishes nothing (a session nobody watches, a benchmark of the engine alone)."""

    def events(self, journaled: Sequence[JournaledEvent]) -> None:
        return None

    def ticks(self, session_id: uuid.UUID, symbol: str, ticks: Sequence[Tick]) -> None:
        return None


class RecordingPublisher:
    """Keeps what it is given, in order (tests, and the demo's printout)."""

    def __init__(self) -> None:
        self.published_events: list[JournaledEvent] = []
        self.tick_batches: list[tuple[uuid.UUID, str, list[Tick]]] = []

    def events(self, journaled: Sequence[JournaledEvent]) -> None:
        self.published_events.extend(journaled)

    def ticks(self, session_id: uuid.UUID, symbol: str, ticks: Sequence[Tick]) -> None:
        self.tick_batches.append((session_id, symbol, list(ticks)))


class RedisPublisher:
    """Publishes on Redis pub/sub: events as `wire_message` on `session:{id}`, tick batches as
    `{"type": "ticks", "session", "symbol", "ticks": [[epoch_ms, "price"], ...]}` on
    `session:{id}:ticks`.

    Each call is one pipeline (one round trip however many events) under a short socket
    timeout, so a slow Redis costs the session at most `timeout_s`. A failure is logged once
    per outage; the publisher then drops messages without trying until a backoff has passed
    (`retry_after_s`, doubling up to `max_retry_after_s`), tries again and says when Redis is
    back. Subscribers read what was dropped from the journal (`after=SEQ`). Thread-safe.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        timeout_s: float = 0.25,
        retry_after_s: float = 0.5,
        max_retry_after_s: float = 10.0,
    ) -> None:
        url = redis_url or embedded.redis_url()
        # No retries inside redis-py: a retry would block the session; our backoff replaces it.
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._first_retry_s = retry_after_s
        self._max_retry_s = max_retry_after_s
        self._retry_s = retry_after_s
        self._down_until: float | None = None  # monotonic instant; None while Redis answers
        self._lock = threading.Lock()
        self.dropped = 0
        """Messages dropped because Redis did not answer (since this publisher was made)."""

    def events(self, journaled: Sequence[JournaledEvent]) -> None:
        self._publish(
            [(session_channel(event.session_id), wire_message(event)) for event in journaled]
        )

    def ticks(self, session_id: uuid.UUID, symbol: str, ticks: Sequence[Tick]) -> None:
        self._publish([(ticks_channel(session_id), tick_message(session_id, symbol, ticks))])

    def close(self) -> None:
        self._client.close()

    def _publish(self, messages: list[tuple[str, str]]) -> None:
        if not messages:
            return
        with self._lock:
            if self._down_until is not None and time.monotonic() < self._down_until:
                self.dropped += len(messages)
                return
        try:
            pipe = self._client.pipeline(transaction=False)
            for channel, text in messages:
                pipe.publish(channel, text)
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self._failed(exc, len(messages))
        else:
            self._answered()

    def _failed(self, exc: BaseException, lost: int) -> None:
        with self._lock:
            self.dropped += lost
            if self._down_until is None:
                log.warning(
                    "session events not published (Redis: %s); dropping them until it answers,"
                    " subscribers read them from the journal",
                    type(exc).__name__,
                )
            else:
                self._retry_s = min(self._retry_s * 2, self._max_retry_s)
            self._down_until = time.monotonic() + self._retry_s

    def _answered(self) -> None:
        with self._lock:
            if self._down_until is not None:
                log.warning("Redis answers again: session events are published again")
            self._down_until = None
            self._retry_s = self._first_retry_s


def tick_message(session_id: uuid.UUID, symbol: str, ticks: Sequence[Tick]) -> str:
    """A batch of ticks as it travels on Redis and on `/ws` (docs/sessions.md, "Streaming")."""
    return json.dumps(
        {
            "type": "ticks",
            "session": str(session_id),
            "symbol": symbol,
            "ticks": [[at_ms, price] for at_ms, price in ticks],
        },
        separators=(",", ":"),
    )
