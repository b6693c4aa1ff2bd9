"""The trading vocabulary: pure value types and event contracts. No I/O, no frameworks.

Every layer speaks these: the engine builds `Fill`s and `Trade`s, storage keeps them, the API
serves shapes derived from them, workers and the gateway announce `JobEvent`s (and the
copilot's `AlertRaised`). One concept, one module: `bars`, `timeframe`, `resample`, `orders`,
`rejections`, `fills`, `trades`, `positions`, `events`, `roles` (what an account may do),
`symbols` (how a symbol is spelled) and `wire` (how money and instants are spelled in JSON).
"""

from velocitas.domain.bars import BarArrays
from velocitas.domain.events import (
    AlertRaised,
    Event,
    JobEvent,
    JobEventType,
    JobKind,
    JobRef,
    JobStatus,
)
from velocitas.domain.fills import Fill
from velocitas.domain.orders import Order, OrderSide, OrderStatus, OrderType
from velocitas.domain.positions import Position, PositionSide
from velocitas.domain.rejections import Rejection
from velocitas.domain.roles import Role
from velocitas.domain.timeframe import Timeframe
from velocitas.domain.trades import Trade

__all__ = [
    "AlertRaised",
    "BarArrays",
    "Event",
    "Fill",
    "JobEvent",
    "JobEventType",
    "JobKind",
    "JobRef",
    "JobStatus",
    "Order",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Position",
    "PositionSide",
    "Rejection",
    "Role",
    "Timeframe",
    "Trade",
]
