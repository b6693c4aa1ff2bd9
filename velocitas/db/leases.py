"""Who runs a trading session: a lease on its row, claimed, renewed and released by traders.

A trader (the `trader` service, one process with several session slots) claims a `running`
session whose lease is free or expired, in one statement that skips rows another trader is
claiming (`FOR UPDATE SKIP LOCKED`), so N traders on N machines share the sessions and none
is run twice. A `killed` session whose flattening is not journaled yet (no `risk.killed`: it was
killed while paused, when no trader held it) is claimed too, so that a trader flattens it. The
claim stamps `trader_id`, `lease_expires_at = now() + ttl` and
`heartbeat_at`; PostgreSQL's clock decides, never the traders'. A heartbeat renews the leases a
trader holds every ttl/3; a renewal that finds another `trader_id` on the row means the lease
was lost (the trader was too slow and another took over): that trader must stop the session
at once. Its late appends fail anyway: `velocitas.db.journal.append_events` checks, under the
row lock, that the row is still held by the trader that appends (`held_by`), and raises
`LeaseLost` otherwise, so the journal never has two writers. A trader that stops (SIGTERM, the
session paused or ended) releases its leases, so another takes over at once, not after a ttl.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from velocitas.db.models.sessions import SessionJournalEntry, TradingSession
from velocitas.errors import Conflict

__all__ = [
    "Claim",
    "LeaseLost",
    "claim",
    "current_holder",
    "held_by",
    "release",
    "renew",
]

_HOLDER: ContextVar[str | None] = ContextVar("velocitas_lease_holder", default=None)


class LeaseLost(Conflict):
    """The session's row names another trader (or none): this one may no longer write to it."""

    def __init__(self, session_id: uuid.UUID, trader_id: str, holder: str | None) -> None:
        super().__init__(
            f"session {session_id}: lease lost by {trader_id}"
            + (f" (now held by {holder})" if holder else " (released)")
        )
        self.session_id, self.trader_id, self.holder = session_id, trader_id, holder


@dataclass(frozen=True, slots=True)
class Claim:
    """A session a trader claimed; `previous` the trader whose expired lease it took over
    (None: the lease was free)."""

    session_id: uuid.UUID
    previous: str | None


@contextmanager
def held_by(trader_id: str) -> Iterator[None]:
    """Within this block (this thread), `append_events` appends only while `trader_id` holds
    the session's lease: how a trader guards the journal of the session it runs without
    passing its id through the session runner."""
    token = _HOLDER.set(trader_id)
    try:
        yield
    finally:
        _HOLDER.reset(token)


def current_holder() -> str | None:
    """The trader id `held_by` set for this thread, if any."""
    return _HOLDER.get()


def claim(session: Session, trader_id: str, ttl_s: float) -> Claim | None:
    """Claim one running (or killed, not yet flattened) session whose lease is free or
    expired (the oldest update first), or None. Committed by the caller."""
    flattened = exists().where(
        SessionJournalEntry.session_id == TradingSession.id,
        SessionJournalEntry.type == "risk.killed",
    )
    free = (
        select(TradingSession.id, TradingSession.trader_id.label("previous"))
        .where(
            (TradingSession.state == "running") | ((TradingSession.state == "killed") & ~flattened),
            (TradingSession.trader_id.is_(None))
            | (TradingSession.lease_expires_at.is_(None))
            | (TradingSession.lease_expires_at < func.now()),
        )
        .order_by(TradingSession.updated_at, TradingSession.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .cte("free")
    )
    row = session.execute(
        update(TradingSession)
        .where(TradingSession.id == free.c.id)
        .values(
            trader_id=trader_id,
            lease_expires_at=func.now() + timedelta(seconds=ttl_s),
            heartbeat_at=func.now(),
        )
        .returning(TradingSession.id, free.c.previous)
    ).first()
    if row is None:
        return None
    previous = row.previous if row.previous != trader_id else None
    return Claim(row.id, previous)


def renew(
    session: Session, trader_id: str, session_ids: Collection[uuid.UUID], ttl_s: float
) -> dict[uuid.UUID, int]:
    """Extend the leases `trader_id` still holds among `session_ids`; returns those renewed
    with their `bars_done` (for the bars/s metric). A session missing from the answer is lost.
    Committed by the caller."""
    if not session_ids:
        return {}
    rows = session.execute(
        update(TradingSession)
        .where(TradingSession.id.in_(list(session_ids)), TradingSession.trader_id == trader_id)
        .values(lease_expires_at=func.now() + timedelta(seconds=ttl_s), heartbeat_at=func.now())
        .returning(TradingSession.id, TradingSession.bars_done)
    ).all()
    return {row.id: row.bars_done for row in rows}


def release(session: Session, trader_id: str, session_id: uuid.UUID) -> bool:
    """Give the lease up (if `trader_id` still holds it), so another trader may claim the
    session at once. Committed by the caller."""
    released = session.execute(
        update(TradingSession)
        .where(TradingSession.id == session_id, TradingSession.trader_id == trader_id)
        .values(trader_id=None, lease_expires_at=None)
        .returning(TradingSession.id)
    ).first()
    return released is not None
