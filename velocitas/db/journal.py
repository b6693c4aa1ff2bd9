"""A trading session's journal: append events with the change they record, read them back.

`append_events` is the only way an event enters `session_event`. It locks the session's row
(`SELECT ... FOR UPDATE`), numbers the events after the row's `last_seq`, inserts them and moves
`last_seq` (and whatever other columns the caller changes) in the caller's transaction: the
events and the state they describe commit together or not at all. Publishing on Redis happens
after the commit (`wire_message` gives the JSON), so a subscriber never hears of an event the
journal lost; a subscriber that missed one reads `events_after`.

A trader appends only while it holds the session's lease (`velocitas.db.leases`): given a
`trader_id` (or inside `leases.held_by(trader_id)`), `append_events` checks the row's
`trader_id` under the same row lock and raises `LeaseLost` if another trader took over.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from velocitas.db.leases import LeaseLost, current_holder
from velocitas.db.models.sessions import SessionJournalEntry, TradingSession
from velocitas.domain.session_events import SessionEventModel
from velocitas.telemetry import SESSION_JOURNAL_APPEND

__all__ = [
    "JournaledEvent",
    "append_events",
    "events_after",
    "session_channel",
    "ticks_channel",
    "wire_message",
]


@dataclass(frozen=True, slots=True)
class JournaledEvent:
    """An event as the journal holds it: its sequence number and its contract's JSON."""

    session_id: uuid.UUID
    seq: int
    payload: dict[str, Any]


def session_channel(session_id: uuid.UUID) -> str:
    """The Redis pub/sub channel of a session's journaled events."""
    return f"session:{session_id}"


def ticks_channel(session_id: uuid.UUID) -> str:
    """The Redis pub/sub channel of a session's tick batches (never journaled)."""
    return f"session:{session_id}:ticks"


def wire_message(event: JournaledEvent) -> str:
    """`{"seq": n, "session": id, "event": {...}}`: how an event travels on Redis and /ws."""
    return json.dumps(
        {"seq": event.seq, "session": str(event.session_id), "event": event.payload},
        separators=(",", ":"),
    )


def append_events(
    session: Session,
    session_id: uuid.UUID,
    events: Sequence[SessionEventModel],
    *,
    trader_id: str | None = None,
    **changes: Any,
) -> list[JournaledEvent]:
    """Append `events` to the journal of `session_id` and apply `changes` to its row
    (`state=...`, `clock=...`, `bars_done=...`), in the caller's transaction (not committed
    here). Returns the events with their sequence numbers, to publish after the commit.
    `trader_id` (default: `leases.current_holder()`): raise `LeaseLost` unless the row is
    held by that trader."""
    with SESSION_JOURNAL_APPEND.time():
        return _append(session, session_id, events, trader_id or current_holder(), changes)


def _append(
    session: Session,
    session_id: uuid.UUID,
    events: Sequence[SessionEventModel],
    trader_id: str | None,
    changes: dict[str, Any],
) -> list[JournaledEvent]:
    last_seq, holder = session.execute(
        select(TradingSession.last_seq, TradingSession.trader_id)
        .where(TradingSession.id == session_id)
        .with_for_update()
    ).one()
    if trader_id is not None and holder != trader_id:
        raise LeaseLost(session_id, trader_id, holder)
    journaled = []
    for offset, event in enumerate(events, start=1):
        payload = event.model_dump(mode="json")
        journaled.append(JournaledEvent(session_id, last_seq + offset, payload))
        session.add(
            SessionJournalEntry(
                session_id=session_id,
                seq=last_seq + offset,
                type=event.type,
                version=event.v,
                at=event.at,
                payload=payload,
            )
        )
    if journaled or changes:
        session.execute(
            update(TradingSession)
            .where(TradingSession.id == session_id)
            .values(last_seq=last_seq + len(journaled), **changes)
        )
    session.flush()
    return journaled


def events_after(
    session: Session, session_id: uuid.UUID, after: int = 0, limit: int = 1000
) -> list[JournaledEvent]:
    """The journal of `session_id` from `after + 1` on, oldest first, at most `limit` events."""
    rows = session.execute(
        select(SessionJournalEntry.seq, SessionJournalEntry.payload)
        .where(SessionJournalEntry.session_id == session_id, SessionJournalEntry.seq > after)
        .order_by(SessionJournalEntry.seq)
        .limit(limit)
    ).all()
    return [JournaledEvent(session_id, seq, payload) for seq, payload in rows]
