"""`append_encoded`: `append_events` for batches of many events, through PostgreSQL COPY.

A session at `speed="max"` journals two or more events per bar (`bar.closed`, a `signal` per
leg) at tens of thousands of bars a second; an ORM insert per event cannot keep up. This
appends events already encoded as JSON text with one `COPY session_event FROM STDIN`, under the
same rules as `velocitas.db.journal.append_events`: the session's row is locked, events are
numbered after its `last_seq`, the row's `last_seq` and the caller's changes are written, all
in the caller's transaction (committed by the caller), and inside `leases.held_by(trader_id)`
only while that trader holds the session's lease (`LeaseLost` otherwise).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from velocitas.db.journal import JournaledEvent
from velocitas.db.leases import LeaseLost, current_holder
from velocitas.db.models.sessions import TradingSession

__all__ = ["EncodedEvent", "append_encoded"]

_COPY = "COPY session_event (session_id, seq, type, version, at, payload) FROM STDIN"


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """An event contract's JSON (`model_dump_json()`), with the columns stored beside it
    (`at` as a datetime, or already as ISO-8601 text)."""

    type: str
    version: int
    at: datetime | str
    json: str


def append_encoded(
    session: Session,
    session_id: uuid.UUID,
    events: Sequence[EncodedEvent],
    *,
    decode: bool = True,
    **changes: Any,
) -> list[JournaledEvent]:
    """Append `events` with one COPY and apply `changes` to the session's row, in the caller's
    transaction. Returns the journaled events (payloads parsed back unless `decode` is False:
    then they are empty, for a caller that publishes nothing)."""
    last_seq, holder = session.execute(
        select(TradingSession.last_seq, TradingSession.trader_id)
        .where(TradingSession.id == session_id)
        .with_for_update()
    ).one()
    trader_id = current_holder()
    if trader_id is not None and holder != trader_id:  # the journal has one writer
        raise LeaseLost(session_id, trader_id, holder)
    if events:
        connection = session.connection().connection.driver_connection
        assert connection is not None
        with connection.cursor() as cursor, cursor.copy(_COPY) as copy:
            copy.write(_copy_text(session_id, last_seq, events))
    session.execute(
        update(TradingSession)
        .where(TradingSession.id == session_id)
        .values(last_seq=last_seq + len(events), **changes)
    )
    return [
        JournaledEvent(session_id, seq, orjson.loads(event.json) if decode else {})
        for seq, event in enumerate(events, start=last_seq + 1)
    ]


def _copy_text(session_id: uuid.UUID, last_seq: int, events: Sequence[EncodedEvent]) -> bytes:
    """COPY's text format, written in one piece (a row at a time costs more than the rows).
    JSON holds no raw tab or newline; its backslashes are COPY's escape and are doubled."""
    head = f"{session_id}\t"
    lines = [
        f"{head}{seq}\t{e.type}\t{e.version}\t"
        f"{e.at if isinstance(e.at, str) else e.at.isoformat()}\t{_escaped(e.json)}\n"
        for seq, e in enumerate(events, start=last_seq + 1)
    ]
    return "".join(lines).encode()


def _escaped(json_text: str) -> str:
    return json_text.replace("\\", "\\\\")
