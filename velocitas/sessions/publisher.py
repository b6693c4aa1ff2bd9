"""How a session's news leaves the process: journaled events and tick batches for subscribers.

The trader (and the gateway, for the transitions and orders it journals) publishes through a
`SessionPublisher` after each commit. Publishing is best effort by design: the journal is the
record, a subscriber that missed a message reads it back with `after=SEQ`, so a publisher never
raises (a Redis outage must not stop a session) and never blocks the session for long.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from velocitas.db.journal import JournaledEvent

__all__ = ["NullPublisher", "RecordingPublisher", "SessionPublisher", "Tick"]

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
