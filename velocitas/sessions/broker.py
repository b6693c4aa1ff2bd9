"""Brokers: where a session's manual orders execute. `PaperBroker` fills them against the feed.

A broker answers one question per tick for a working order: does it fill on this tick, and at
what price and fee? A live broker would send the order out and report the exchange's fill; the
paper broker decides from the tick itself:

- a market order fills at the first tick it sees, plus `slippage_bps` (buys pay more, sells
  receive less), on the 8-decimal price grid;
- a limit order fills at the first tick at or through its limit (a buy at a tick <= limit, a
  sell at a tick >= limit), at that tick's price (a tick is a print: a gap fills better);
- the fee is the backtest's: rate x quantity x price + fixed.

`TransientBrokerError` is a failure worth retrying (a timeout, a dropped connection); the OMS
retries it with bounded backoff. Any other exception is the order's rejection.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Literal, Protocol

from velocitas.engine.ledger import price_decimal
from velocitas.sessions.books import EXACT

__all__ = ["Broker", "BrokerFill", "PaperBroker", "TransientBrokerError", "WorkingOrder"]


class TransientBrokerError(Exception):
    """The broker could not answer now; the same request may succeed if retried."""


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """What a broker needs of an order: its id (the idempotency key), side, type, size."""

    order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    order_type: Literal["market", "limit"]
    quantity: Decimal
    limit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BrokerFill:
    price: Decimal
    fee: Decimal


class Broker(Protocol):
    def execute(self, order: WorkingOrder, tick_price: float) -> BrokerFill | None:
        """The order's fill on this tick, or None if it does not fill on it. Raises
        `TransientBrokerError` when it cannot tell now."""


class PaperBroker:
    """Fills against the replayed ticks with the session's slippage and fees."""

    def __init__(self, *, fee_rate: Decimal, fee_fixed: Decimal, slippage_bps: Decimal) -> None:
        self.fee_rate = fee_rate
        self.fee_fixed = fee_fixed
        self.slippage = float(slippage_bps) / 10_000.0

    def execute(self, order: WorkingOrder, tick_price: float) -> BrokerFill | None:
        buy = order.side == "buy"
        if order.order_type == "market":
            price = price_decimal(tick_price * (1.0 + (self.slippage if buy else -self.slippage)))
        else:
            limit = order.limit_price
            tick = price_decimal(tick_price)
            if limit is None or (tick > limit if buy else tick < limit):
                return None
            price = tick
        with localcontext(EXACT):
            fee = order.quantity * price * self.fee_rate + self.fee_fixed
        return BrokerFill(price, fee)
