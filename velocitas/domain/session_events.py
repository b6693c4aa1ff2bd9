"""A trading session's journal: the versioned event contracts every session event follows.

Each event a session journals is one of the models below, stored in `session_event` with the
session's own sequence number (`seq`, 1, 2, 3, ... without gaps) in the same transaction as the
state it changes, published on Redis for the WebSocket, and read back by `GET
/sessions/{id}/events?after=SEQ`. Ticks are not journaled: they are reproducible from the seed.

On the wire an event is `{"seq": n, "session": id, "event": <model JSON>}`; the model JSON
carries `type`, `v` (the contract's version: a change that breaks a reader bumps it) and, last,
`at`, the market instant it happened (the replayed clock, not the wall clock). Money and
quantities are Decimal, written as plain decimal strings.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, PlainSerializer, TypeAdapter

from velocitas.domain.events import Event
from velocitas.domain.wire import decimal_text

__all__ = [
    "CONTRACT_VERSION",
    "BarClosed",
    "BarsClosed",
    "LegPnl",
    "OrderEvent",
    "PnlSnapshot",
    "PositionChanged",
    "RiskEvent",
    "SessionEvent",
    "SessionEventModel",
    "SessionState",
    "SignalEvent",
    "TradeEvent",
    "parse_session_event",
]

CONTRACT_VERSION = 1

Amount = Annotated[Decimal, PlainSerializer(decimal_text, return_type=str, when_used="json")]
"""A price, quantity or sum: plain decimal text in JSON ("0.00000001", never "1E-8")."""


class SessionState(StrEnum):
    """`created -> running <-> paused -> stopped | killed | finished | failed`."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    KILLED = "killed"
    FINISHED = "finished"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        """True once the session can change no more."""
        return self in _ENDED


_ENDED = frozenset(
    {SessionState.STOPPED, SessionState.KILLED, SessionState.FINISHED, SessionState.FAILED}
)


class BarClosed(Event):
    """OHLCVBar: a replayed bar closed (`opened_at` names it)."""

    type: Literal["bar.closed"] = "bar.closed"
    v: int = CONTRACT_VERSION
    symbol: str
    timeframe: str
    opened_at: datetime
    open: Amount
    high: Amount
    low: Amount
    close: Amount
    volume: Amount
    at: datetime


class BarsClosed(Event):
    """A run of consecutive quiet bars of one symbol closed (speed `max`'s compact journal).

    Quiet: no order, fill, risk event or signal change inside the run. The lists are aligned,
    one entry per bar, in order (bar i opened at `opened_at[i]`); `at` is the last bar's close.
    It says what as many `bar.closed` events would say; at a finite speed bars are journaled
    one `bar.closed` each."""

    type: Literal["bars.closed"] = "bars.closed"
    v: int = CONTRACT_VERSION
    symbol: str
    timeframe: str
    opened_at: list[datetime]
    open: list[Amount]
    high: list[Amount]
    low: list[Amount]
    close: list[Amount]
    volume: list[Amount]
    at: datetime


class SignalEvent(Event):
    """A strategy leg's target side at a bar's close, with the signal's confidence in [0, 1].
    Journaled when the side changes (and at the leg's first bar): it stands until the next."""

    type: Literal["signal"] = "signal"
    v: int = CONTRACT_VERSION
    leg: int
    symbol: str
    strategy: str
    side: Literal[-1, 0, 1]
    confidence: Amount
    at: datetime


class OrderEvent(Event):
    """An order changed status: `order.new|accepted|filled|cancelled|rejected|expired`.
    `leg` is None for a manual order; `reason` says why it was rejected, cancelled or expired."""

    type: Literal[
        "order.new",
        "order.accepted",
        "order.filled",
        "order.cancelled",
        "order.rejected",
        "order.expired",
    ]
    v: int = CONTRACT_VERSION
    order_id: uuid.UUID
    client_order_id: str | None = None
    origin: Literal["strategy", "manual"]
    leg: int | None = None
    symbol: str
    side: Literal["buy", "sell"]
    order_type: Literal["market", "limit"]
    quantity: Amount
    limit_price: Amount | None = None
    stop_loss: Amount | None = None
    take_profit: Amount | None = None
    trailing_stop: Amount | None = None
    reason: str | None = None
    at: datetime


class TradeEvent(Event):
    """A fill: `quantity` of `symbol` at `price`, `fee` paid; `reason` as a backtest's fills
    ("entry", "signal", "stop_loss", ..., "manual")."""

    type: Literal["fill"] = "fill"
    v: int = CONTRACT_VERSION
    fill_no: int
    order_id: uuid.UUID | None = None
    leg: int | None = None
    symbol: str
    side: Literal["buy", "sell"]
    quantity: Amount
    price: Amount
    fee: Amount
    reason: str
    at: datetime


class PositionChanged(Event):
    """A leg's (or the manual book's, `leg` None) position in `symbol` after a fill."""

    type: Literal["position.changed"] = "position.changed"
    v: int = CONTRACT_VERSION
    leg: int | None = None
    symbol: str
    side: Literal["long", "short", "flat"]
    quantity: Amount
    average_price: Amount | None = None
    realised_pnl: Amount
    unrealised_pnl: Amount
    at: datetime


class RiskEvent(Event):
    """The risk guard refused an order (`risk.rejected`), halted entries (`risk.halted`) or
    flattened and halted the session (`risk.killed`); `rule` names the rule."""

    type: Literal["risk.rejected", "risk.halted", "risk.killed"]
    v: int = CONTRACT_VERSION
    rule: str
    reason: str
    leg: int | None = None
    order_id: uuid.UUID | None = None
    at: datetime


class SessionEvent(Event):
    """The session changed state, and why (`reason` as a person would say it)."""

    type: Literal["session.state"] = "session.state"
    v: int = CONTRACT_VERSION
    state: SessionState
    previous: SessionState | None = None
    reason: str
    speed: float | Literal["max"] | None = None
    """Set when the replay's speed changed (the state then stays as it was)."""
    at: datetime


class LegPnl(Event):
    """One row of a P&L snapshot: a leg (or the manual book) in one symbol."""

    type: Literal["pnl.leg"] = "pnl.leg"
    v: int = CONTRACT_VERSION
    leg: int | None = None
    symbol: str
    strategy: str | None = None
    realised: Amount
    unrealised: Amount
    at: datetime


class PnlSnapshot(Event):
    """P&L per leg, realised and unrealised, with the account's cash and equity."""

    type: Literal["pnl"] = "pnl"
    v: int = CONTRACT_VERSION
    legs: list[LegPnl]
    realised: Amount
    unrealised: Amount
    cash: Amount
    equity: Amount
    at: datetime


SessionEventModel = Annotated[
    BarClosed
    | BarsClosed
    | SignalEvent
    | OrderEvent
    | TradeEvent
    | PositionChanged
    | RiskEvent
    | SessionEvent
    | PnlSnapshot,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[SessionEventModel] = TypeAdapter(SessionEventModel)


def parse_session_event(data: dict[str, object] | str | bytes) -> SessionEventModel:
    """A journaled event from its JSON (text or parsed), validated against its contract."""
    if isinstance(data, str | bytes):
        return _ADAPTER.validate_json(data)
    return _ADAPTER.validate_python(data)
