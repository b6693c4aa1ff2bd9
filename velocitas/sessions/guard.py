"""The risk guard every manual order passes before the OMS accepts it.

The rules are the engine's (`velocitas.engine.risk`, `velocitas.engine.step`), applied to the
session's one account: strategy legs and the manual book share its cash.

- kill switch: after the drawdown kill switch fired, or a manual kill, nothing is accepted;
- daily loss limit: while the engine has halted entries for the day, no order opens risk;
- maximum position: an order's notional may not exceed `risk.max_position` x equity;
- funds: an order that adds exposure must be paid for (notional + fee, after slippage) from
  the funds available (equity less the gross exposure, as `equity_of` counts them). An order
  the balance cannot pay for is rejected with the reason, never shrunk.

An order that only reduces the manual position is never refused: exits reduce risk.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

from velocitas.sessions.books import EXACT

if TYPE_CHECKING:
    from velocitas.sessions.oms import ManualOrder

__all__ = ["Account", "RiskGuard"]


@dataclass(frozen=True, slots=True)
class Account:
    """The session's account as the guard sees it at the order's tick."""

    equity: Decimal
    available: Decimal
    halted_today: bool = False
    killed: bool = False


class RiskGuard:
    def __init__(
        self,
        *,
        fee_rate: Decimal,
        fee_fixed: Decimal,
        slippage_bps: Decimal,
        max_position: Decimal | None,
    ) -> None:
        self.fee_rate = fee_rate
        self.fee_fixed = fee_fixed
        self.slippage = slippage_bps / Decimal(10_000)
        self.max_position = max_position

    def refusal(
        self, order: ManualOrder, price: Decimal, held: Decimal, account: Account
    ) -> tuple[str, str] | None:
        """(rule, reason) when `order` at about `price` must be rejected, else None. `held` is
        the manual book's signed quantity in the order's symbol."""
        buy = order.side == "buy"
        reduces = held != 0 and (held < 0) == buy and order.quantity <= abs(held)
        if reduces:
            return None
        if account.killed:
            return "kill_switch", "kill switch: the session is halted"
        if account.halted_today:
            return "daily_loss_limit", "daily loss limit reached: no new risk today"
        with localcontext(EXACT):
            if order.order_type == "limit" and order.limit_price is not None:
                price = order.limit_price
            else:
                price = price * (1 + self.slippage if buy else 1 - self.slippage)
            notional = order.quantity * price
            cost = notional + notional * self.fee_rate + self.fee_fixed
            if self.max_position is not None and notional > self.max_position * account.equity:
                limit = self.max_position * account.equity
                return "max_position", (
                    f"max position: order notional {notional:.2f} above "
                    f"{self.max_position} x equity = {limit:.2f}"
                )
            if cost > account.available:
                return "insufficient_funds", (
                    f"insufficient funds: order costs {cost:.2f} with fees, "
                    f"{account.available:.2f} available"
                )
        return None
