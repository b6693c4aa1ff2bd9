"""Trading sessions for the trader's tests: rows made directly in the store (the gateway's
REST is another helper's), and their journals read back."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from velocitas.db.accounts import create_user
from velocitas.db.journal import events_after
from velocitas.db.models.sessions import TradingSession


def make_session(db: Session, *, state: str = "running", bars_total: int = 10) -> uuid.UUID:
    """A session of a new user in `state`, with `bars_total` bars to replay (flushed)."""
    owner = create_user(db, f"trader-{uuid.uuid4().hex[:8]}").user
    row = TradingSession(
        owner_id=owner.id, name="test", spec={}, state=state, bars_total=bars_total
    )
    db.add(row)
    db.flush()
    return row.id


def expire_lease(db: Session, session_id: uuid.UUID) -> None:
    """As if its trader had missed every heartbeat for a TTL (PostgreSQL's clock decides)."""
    db.execute(
        text(
            "UPDATE trading_session SET lease_expires_at = now() - interval '1 second' "
            "WHERE id = :id"
        ),
        {"id": session_id},
    )


def journal(db: Session, session_id: uuid.UUID) -> list[dict[str, Any]]:
    """The session's journal as (seq, payload) dicts, oldest first."""
    return [{"seq": e.seq, **e.payload} for e in events_after(db, session_id, 0, limit=1_000_000)]


def row(db: Session, session_id: uuid.UUID) -> TradingSession:
    found = db.execute(select(TradingSession).where(TradingSession.id == session_id)).scalar_one()
    return found
