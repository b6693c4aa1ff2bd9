"""The OMS: a session's manual orders from `new` to `filled | cancelled | rejected | expired`.

    new --risk guard--> accepted --broker fills on a tick--> filled
        \\-> rejected (reason)        \\-> cancelled (stop, kill)   (expired: the replay ended)

Every manual order passes the risk guard (`velocitas.sessions.guard`) before it is accepted; a
refused order is rejected with the guard's reason, never shrunk. An accepted order is offered
to the broker on every tick of its symbol until it fills. A transient broker error is retried
with bounded backoff (`BACKOFF_S`: 3 tries), then the order waits for the next tick; an order
that filled is never sent again (its id leaves the working set in the same step).

Filled manual orders build the manual book: one `LegBook` per symbol (leg None), with the
order's stop loss / take profit (price levels) and trailing stop (a fraction below the best
price since entry, 0.02 = 2%) checked on every tick; the first tick at or beyond a level closes
the position at that tick (plus slippage), as the engine's `bridge` path model does.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Literal

from velocitas.domain.session_events import (
    OrderEvent,
    PositionChanged,
    RiskEvent,
    SessionEventModel,
    TradeEvent,
)
from velocitas.engine.ledger import price_decimal
from velocitas.sessions.books import LegBook
from velocitas.sessions.broker import Broker, BrokerFill, TransientBrokerError, WorkingOrder
from velocitas.sessions.guard import Account, RiskGuard

__all__ = ["BACKOFF_S", "ManualOrder", "Oms"]

BACKOFF_S = (0.05, 0.1, 0.2)
"""Waits after a transient broker error: three tries in all, then the next tick."""


@dataclass(frozen=True, slots=True)
class ManualOrder:
    """A manual order as `session_order` holds it."""

    order_id: uuid.UUID
    symbol: str
    side: Literal["buy", "sell"]
    order_type: Literal["market", "limit"]
    quantity: Decimal
    limit_price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_stop: Decimal | None = None
    client_order_id: str | None = None

    def event(self, kind: str, at: datetime, reason: str | None = None) -> OrderEvent:
        return OrderEvent(
            type=kind,
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            origin="manual",
            symbol=self.symbol,
            side=self.side,
            order_type=self.order_type,
            quantity=self.quantity,
            limit_price=self.limit_price,
            stop_loss=self.stop_loss,
            take_profit=self.take_profit,
            trailing_stop=self.trailing_stop,
            reason=reason,
            at=at,
        )


@dataclass(slots=True)
class _Protection:
    stop_loss: Decimal | None
    take_profit: Decimal | None
    trailing: Decimal | None


class Oms:
    """Manual orders, the manual book and its cash (a delta on the session's account)."""

    def __init__(
        self,
        broker: Broker,
        guard: RiskGuard,
        *,
        sleep: Callable[[float], None] = time.sleep,
        backoff: tuple[float, ...] = BACKOFF_S,
    ) -> None:
        self.broker = broker
        self.guard = guard
        self._sleep = sleep
        self._backoff = backoff
        self.working: dict[uuid.UUID, ManualOrder] = {}
        self.done: set[uuid.UUID] = set()
        self.books: dict[str, LegBook] = {}
        self._protection: dict[str, _Protection] = {}
        self.cash = Decimal(0)
        self.fills = 0

    @property
    def busy(self) -> bool:
        """True while an order works or a manual position is open (ticks must be walked)."""
        return bool(self.working) or any(b.quantity != 0 for b in self.books.values())

    def submit(
        self, order: ManualOrder, price: float, account: Account, at: datetime
    ) -> list[SessionEventModel]:
        """Guard `order` (priced at `price`, the latest tick) and accept or reject it."""
        if order.order_id in self.done or order.order_id in self.working:
            return []
        book = self.books.get(order.symbol, LegBook())
        refusal = self.guard.refusal(order, price_decimal(price), book.quantity, account)
        if refusal is not None:
            self.done.add(order.order_id)
            rule, reason = refusal
            return [
                order.event("order.rejected", at, reason),
                RiskEvent(
                    type="risk.rejected", rule=rule, reason=reason, order_id=order.order_id, at=at
                ),
            ]
        self.working[order.order_id] = order
        return [order.event("order.accepted", at)]

    def on_tick(self, symbol: str, price: float, at: datetime) -> list[SessionEventModel]:
        """Offer the symbol's working orders to the broker at this tick; check protection."""
        events: list[SessionEventModel] = []
        events += self._check_protection(symbol, price, at)
        for order in [o for o in self.working.values() if o.symbol == symbol]:
            fill = self._execute(order, price)
            if fill is None:
                continue
            del self.working[order.order_id]
            self.done.add(order.order_id)
            events += [order.event("order.filled", at)]
            events += self._book(order, fill, "manual", at)
            if order.stop_loss or order.take_profit or order.trailing_stop:
                self._protection[symbol] = _Protection(
                    order.stop_loss, order.take_profit, order.trailing_stop
                )
        return events

    def cancel_all(
        self, reason: str, at: datetime, kind: str = "order.cancelled"
    ) -> list[SessionEventModel]:
        """Every working order leaves as `kind` (cancelled; expired when the replay ends)."""
        events: list[SessionEventModel] = [o.event(kind, at, reason) for o in self.working.values()]
        self.done.update(self.working)
        self.working.clear()
        return events

    def flatten(self, prices: dict[str, float], at: datetime) -> list[SessionEventModel]:
        """Close every manual position at its symbol's next tick (`prices`), at market."""
        events: list[SessionEventModel] = []
        for symbol, book in self.books.items():
            if book.quantity != 0 and symbol in prices:
                events += self._close(symbol, book, prices[symbol], "kill_switch", at)
        return events

    def _execute(self, order: ManualOrder, price: float) -> BrokerFill | None:
        working = WorkingOrder(
            str(order.order_id), order.symbol, order.side, order.order_type, order.quantity,
            order.limit_price,
        )  # fmt: skip
        for attempt, wait in enumerate(self._backoff):
            try:
                return self.broker.execute(working, price)
            except TransientBrokerError:
                if attempt == len(self._backoff) - 1:
                    return None  # the next tick tries again
                self._sleep(wait)
        return None

    def _book(
        self, order: ManualOrder, fill: BrokerFill, reason: str, at: datetime
    ) -> list[SessionEventModel]:
        book = self.books.setdefault(order.symbol, LegBook())
        self.cash += book.apply(order.side == "buy", order.quantity, fill.price, fill.fee)
        self.fills += 1
        return [
            TradeEvent(
                fill_no=self.fills, order_id=order.order_id, symbol=order.symbol,
                side=order.side, quantity=order.quantity, price=fill.price, fee=fill.fee,
                reason=reason, at=at,
            ),
            PositionChanged(
                symbol=order.symbol, side=book.side, quantity=abs(book.quantity),
                average_price=book.average_price if book.quantity else None,
                realised_pnl=book.realised, unrealised_pnl=book.unrealised(), at=at,
            ),
        ]  # fmt: skip

    def _close(
        self, symbol: str, book: LegBook, price: float, reason: str, at: datetime
    ) -> list[SessionEventModel]:
        side: Literal["buy", "sell"] = "sell" if book.quantity > 0 else "buy"
        exit_order = ManualOrder(
            uuid.uuid5(uuid.NAMESPACE_OID, f"{symbol}:{reason}:{self.fills}"),
            symbol, side, "market", abs(book.quantity),
        )  # fmt: skip
        fill = self._execute(exit_order, price)
        if fill is None:
            return []
        self._protection.pop(symbol, None)
        return self._book(replace(exit_order), fill, reason, at)

    def _check_protection(self, symbol: str, price: float, at: datetime) -> list[SessionEventModel]:
        book = self.books.get(symbol)
        guard = self._protection.get(symbol)
        if book is None or guard is None or book.quantity == 0:
            return []
        tick = price_decimal(price)
        long = book.quantity > 0
        best = book.best if book.best is not None else book.average_price
        reason = None
        if guard.stop_loss is not None and (
            tick <= guard.stop_loss if long else tick >= guard.stop_loss
        ):
            reason = "stop_loss"
        elif guard.trailing is not None and (
            tick <= best * (1 - guard.trailing) if long else tick >= best * (1 + guard.trailing)
        ):
            reason = "trailing_stop"
        elif guard.take_profit is not None and (
            tick >= guard.take_profit if long else tick <= guard.take_profit
        ):
            reason = "take_profit"
        if reason is not None:
            return self._close(symbol, book, price, reason, at)
        if (tick > best) if long else (tick < best):
            book.best = tick  # the high-water mark moves after the tick is checked
        book.mark = tick
        return []
