"""Trading sessions' control plane: create, list, read (owner-scoped), change state, place
manual orders, and the read models the REST API serves from the journal.

Every change that the API makes is journaled with `append_events` in the caller's transaction
and returned as `JournaledEvent`s for the caller to publish AFTER its commit. The state machine
(`ALLOWED`) is the contract's (docs/sessions.md, "States"): the gateway asks for `start`,
`pause`, `resume`, `stop` and `kill`; the trader alone moves a session to `finished` or `failed`.

Fills, positions and P&L are never stored twice: they are read back from the journal (`fill`,
the latest `position.changed` per leg and symbol, the latest `pnl` snapshot), and the sums per
symbol and per strategy are computed here with Decimal, so they reconcile exactly with the rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session

from velocitas.db.journal import JournaledEvent, append_events, events_after
from velocitas.db.models.sessions import SessionJournalEntry, SessionOrder, TradingSession
from velocitas.domain.session_events import OrderEvent, SessionEvent, SessionState
from velocitas.errors import Conflict, NotFound

__all__ = [
    "ACTIONS",
    "ALLOWED",
    "Cursor",
    "ManualOrder",
    "PnlView",
    "create_session",
    "get_owned_session",
    "kill_all",
    "list_fills",
    "list_orders",
    "list_sessions",
    "market_instant",
    "place_order",
    "pnl",
    "positions",
    "read_events",
    "set_speed",
    "transition",
]

S = SessionState
ACTIONS: dict[str, SessionState] = {
    "start": S.RUNNING,
    "pause": S.PAUSED,
    "resume": S.RUNNING,
    "stop": S.STOPPED,
    "kill": S.KILLED,
}
"""What each action asks for: the state it moves the session to."""

ALLOWED: dict[str, frozenset[SessionState]] = {
    "start": frozenset({S.CREATED}),
    "pause": frozenset({S.RUNNING}),
    "resume": frozenset({S.PAUSED}),
    "stop": frozenset({S.RUNNING, S.PAUSED}),
    "kill": frozenset({S.CREATED, S.RUNNING, S.PAUSED}),
}
"""The states each action may leave; any other answers 409 (`Conflict`)."""

ORDERS_ACCEPTED_IN = frozenset({S.RUNNING, S.PAUSED})
"""A manual order is taken while the session runs or is paused (it fills once it runs)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a newest-first page stopped: the last row's creation time and id."""

    created_at: datetime
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class ManualOrder:
    """A manual order as the API validated it (quantities and prices positive, a limit price
    exactly for limit orders, the symbol one of the session's)."""

    symbol: str
    side: str
    type: str
    quantity: Decimal
    limit_price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_stop: Decimal | None = None
    client_order_id: str | None = None

    def matches(self, order: SessionOrder) -> bool:
        """Whether `order` is this request (a retry), compared field by field."""
        return all(
            getattr(self, name) == getattr(order, name)
            for name in ("symbol", "side", "type", "quantity", "limit_price", "stop_loss",
                         "take_profit", "trailing_stop")
        )  # fmt: skip


def create_session(
    db: Session, owner_id: uuid.UUID, spec: dict[str, Any], *, name: str
) -> TradingSession:
    """Insert a `created` session of `owner_id` with its validated spec (JSON); the caller has
    checked the spec against the strategies' bounds and the stored bars, and commits."""
    row = TradingSession(
        id=uuid.uuid4(), owner_id=owner_id, name=name, spec=spec, state=S.CREATED.value
    )
    db.add(row)
    db.flush()
    db.refresh(row)  # the server's created_at / updated_at
    return row


def get_owned_session(
    db: Session, session_id: uuid.UUID, owner_id: uuid.UUID, *, lock: bool = False
) -> TradingSession:
    """The owner's session, or `NotFound` (whether it is missing or someone else's)."""
    query = select(TradingSession).where(
        TradingSession.id == session_id, TradingSession.owner_id == owner_id
    )
    if lock:
        query = query.with_for_update()
    row = db.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no session {session_id}")
    return row


def list_sessions(
    db: Session,
    owner_id: uuid.UUID,
    *,
    state: SessionState | None = None,
    limit: int = 50,
    after: Cursor | None = None,
) -> list[TradingSession]:
    """The owner's sessions, newest first, at most `limit`, after `after` (keyset pages)."""
    query = select(TradingSession).where(TradingSession.owner_id == owner_id)
    if state is not None:
        query = query.where(TradingSession.state == state.value)
    if after is not None:
        query = query.where(
            func.row(TradingSession.created_at, TradingSession.id)
            < func.row(after.created_at, after.id)
        )
    order = (TradingSession.created_at.desc(), TradingSession.id.desc())
    return list(db.execute(query.order_by(*order).limit(limit)).scalars())


def market_instant(row: TradingSession) -> datetime:
    """The replay clock: where the session is in market time (its start before it runs)."""
    return row.clock or datetime.fromisoformat(row.spec["start"])


def transition(
    db: Session,
    row: TradingSession,
    action: str,
    reason: str,
) -> list[JournaledEvent]:
    """Apply `action` to `row` (locked by the caller: `get_owned_session(..., lock=True)`):
    journal a `session.state` event with `reason` and move `state`, `reason` and
    `updated_at`, in the caller's transaction. `Conflict` if the state forbids it."""
    current = SessionState(row.state)
    if current not in ALLOWED[action]:
        allowed = " or ".join(sorted(s.value for s in ALLOWED[action]))
        raise Conflict(
            f"cannot {action} session {row.id}: it is {current.value} (only a {allowed} "
            f"session can {action})"
        )
    target = ACTIONS[action]
    event = SessionEvent(state=target, previous=current, reason=reason, at=market_instant(row))
    journaled = append_events(
        db, row.id, [event], state=target.value, reason=reason, updated_at=func.now()
    )
    db.refresh(row)
    return journaled


SPEED_CHANGES_IN = frozenset({S.CREATED, S.RUNNING, S.PAUSED})


def set_speed(
    db: Session, row: TradingSession, speed: float | str, reason: str
) -> list[JournaledEvent]:
    """Change the replay speed of `row` (locked by the caller): the spec's `speed` moves and a
    `session.state` event (state unchanged) says so with `reason`; the trader paces from the
    next tick batch on. `Conflict` once the session has ended."""
    current = SessionState(row.state)
    if current not in SPEED_CHANGES_IN:
        raise Conflict(f"cannot change the speed of session {row.id}: it is {current.value}")
    event = SessionEvent(
        state=current, previous=current, reason=reason, speed=speed, at=market_instant(row)
    )
    spec = {**row.spec, "speed": speed}
    journaled = append_events(db, row.id, [event], spec=spec, updated_at=func.now())
    db.refresh(row)
    return journaled


def kill_all(db: Session, reason: str) -> list[tuple[TradingSession, list[JournaledEvent]]]:
    """Kill every running or paused session of every user (the global kill switch)."""
    rows = db.execute(
        select(TradingSession)
        .where(TradingSession.state.in_([S.RUNNING.value, S.PAUSED.value]))
        .order_by(TradingSession.created_at, TradingSession.id)
        .with_for_update()
    ).scalars()
    return [(row, transition(db, row, "kill", reason)) for row in list(rows)]


def place_order(
    db: Session, row: TradingSession, order: ManualOrder
) -> tuple[SessionOrder, list[JournaledEvent]]:
    """Record a manual order of the session `row` (locked by the caller) as `new` and journal
    `order.new`; return it with the events (none when it is a retry). The same
    `client_order_id` again returns the first order and creates nothing (the unique
    constraint decides, even between concurrent retries); reused for another order, or sent
    to a session that is not running or paused: `Conflict`."""
    if order.client_order_id is not None:
        existing = _order_by_client_id(db, row.id, order.client_order_id)
        if existing is not None:
            return _retried(existing, order), []
    current = SessionState(row.state)
    if current not in ORDERS_ACCEPTED_IN:
        raise Conflict(
            f"session {row.id} is {current.value}: orders are taken only while it is running "
            "or paused"
        )
    values = {
        "id": uuid.uuid4(),
        "session_id": row.id,
        "origin": "manual",
        "leg": None,
        "status": "new",
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "quantity": order.quantity,
        "limit_price": order.limit_price,
        "stop_loss": order.stop_loss,
        "take_profit": order.take_profit,
        "trailing_stop": order.trailing_stop,
        "client_order_id": order.client_order_id,
    }
    inserted = db.execute(
        insert(SessionOrder)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_session_order_client_id")
        .returning(SessionOrder.id)
    ).scalar_one_or_none()
    if inserted is None:  # a concurrent retry won the race
        assert order.client_order_id is not None
        existing = _order_by_client_id(db, row.id, order.client_order_id)
        assert existing is not None
        return _retried(existing, order), []
    created = db.get_one(SessionOrder, inserted)
    event = OrderEvent(
        type="order.new",
        order_id=created.id,
        client_order_id=created.client_order_id,
        origin="manual",
        leg=None,
        symbol=created.symbol,
        side=order.side,
        order_type=order.type,
        quantity=created.quantity,
        limit_price=created.limit_price,
        stop_loss=created.stop_loss,
        take_profit=created.take_profit,
        trailing_stop=created.trailing_stop,
        at=market_instant(row),
    )
    return created, append_events(db, row.id, [event])


def _order_by_client_id(
    db: Session, session_id: uuid.UUID, client_order_id: str
) -> SessionOrder | None:
    return db.execute(
        select(SessionOrder).where(
            SessionOrder.session_id == session_id,
            SessionOrder.client_order_id == client_order_id,
        )
    ).scalar_one_or_none()


def _retried(existing: SessionOrder, order: ManualOrder) -> SessionOrder:
    if not order.matches(existing):
        raise Conflict(
            f"client_order_id {order.client_order_id!r} was used for another order "
            f"({existing.id}); use a new id for a new order"
        )
    return existing


def list_orders(
    db: Session, session_id: uuid.UUID, *, limit: int = 100, after: Cursor | None = None
) -> list[SessionOrder]:
    """The session's orders (strategy and manual), newest first, keyset pages."""
    query = select(SessionOrder).where(SessionOrder.session_id == session_id)
    if after is not None:
        query = query.where(
            func.row(SessionOrder.created_at, SessionOrder.id)
            < func.row(after.created_at, after.id)
        )
    order = (SessionOrder.created_at.desc(), SessionOrder.id.desc())
    return list(db.execute(query.order_by(*order).limit(limit)).scalars())


def list_fills(
    db: Session, session_id: uuid.UUID, *, after: int = 0, limit: int = 1000
) -> list[tuple[int, dict[str, Any]]]:
    """The session's `fill` events after journal seq `after`, oldest first: (seq, event)."""
    rows = db.execute(
        select(SessionJournalEntry.seq, SessionJournalEntry.payload)
        .where(
            SessionJournalEntry.session_id == session_id,
            SessionJournalEntry.type == "fill",
            SessionJournalEntry.seq > after,
        )
        .order_by(SessionJournalEntry.seq)
        .limit(limit)
    ).all()
    return [(seq, payload) for seq, payload in rows]


def positions(db: Session, session_id: uuid.UUID) -> list[dict[str, Any]]:
    """The latest `position.changed` event of each (leg, symbol) (the manual book's leg is
    null), ordered by leg (manual book last), then symbol. Flat positions are included."""
    leg = SessionJournalEntry.payload["leg"].astext
    symbol = SessionJournalEntry.payload["symbol"].astext
    latest = (
        select(SessionJournalEntry.payload)
        .where(
            SessionJournalEntry.session_id == session_id,
            SessionJournalEntry.type == "position.changed",
        )
        .ext(distinct_on(leg, symbol))
        .order_by(leg, symbol, SessionJournalEntry.seq.desc())
    )
    rows = [payload for (payload,) in db.execute(latest).all()]
    return sorted(rows, key=lambda p: (p["leg"] is None, p["leg"] or 0, p["symbol"]))


@dataclass(frozen=True, slots=True)
class PnlView:
    """The latest P&L snapshot with its sums per symbol and per strategy (exact Decimal)."""

    legs: list[dict[str, Any]]
    by_symbol: dict[str, dict[str, Decimal]]
    by_strategy: dict[str, dict[str, Decimal]]
    realised: Decimal
    unrealised: Decimal
    cash: Decimal
    equity: Decimal
    at: datetime | None

    @property
    def total(self) -> Decimal:
        return self.realised + self.unrealised


MANUAL_BOOK = "manual"
"""The strategy key of the manual book's P&L (its legs have no strategy)."""


def pnl(db: Session, row: TradingSession) -> PnlView:
    """The session's P&L as of its latest `pnl` snapshot; before any, zero P&L and the spec's
    initial cash."""
    payload = db.execute(
        select(SessionJournalEntry.payload)
        .where(SessionJournalEntry.session_id == row.id, SessionJournalEntry.type == "pnl")
        .order_by(SessionJournalEntry.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    if payload is None:
        cash = Decimal(str(row.spec.get("initial_cash", "0")))
        zero = Decimal(0)
        return PnlView([], {}, {}, zero, zero, cash, cash, None)
    legs = [
        {
            "leg": leg["leg"],
            "symbol": leg["symbol"],
            "strategy": leg.get("strategy"),
            "realised": Decimal(leg["realised"]),
            "unrealised": Decimal(leg["unrealised"]),
        }
        for leg in payload["legs"]
    ]
    return PnlView(
        legs=legs,
        by_symbol=_sums(legs, lambda leg: leg["symbol"]),
        by_strategy=_sums(legs, lambda leg: leg["strategy"] or MANUAL_BOOK),
        realised=Decimal(payload["realised"]),
        unrealised=Decimal(payload["unrealised"]),
        cash=Decimal(payload["cash"]),
        equity=Decimal(payload["equity"]),
        at=datetime.fromisoformat(payload["at"]),
    )


def _sums(legs: Sequence[dict[str, Any]], key: Any) -> dict[str, dict[str, Decimal]]:
    sums: dict[str, dict[str, Decimal]] = {}
    for leg in legs:
        entry = sums.setdefault(
            key(leg), {"realised": Decimal(0), "unrealised": Decimal(0), "total": Decimal(0)}
        )
        entry["realised"] += leg["realised"]
        entry["unrealised"] += leg["unrealised"]
        entry["total"] += leg["realised"] + leg["unrealised"]
    return dict(sorted(sums.items()))


def read_events(
    db: Session, row: TradingSession, *, after: int = 0, limit: int = 1000
) -> tuple[list[JournaledEvent], int]:
    """The journal after `after` (oldest first, at most `limit`) and the journal's head."""
    return events_after(db, row.id, after, limit), row.last_seq
