"""velocitas.sessions.oms / broker / guard: manual orders through the risk guard and the paper
broker, retried on transient errors, never sent twice, protected tick by tick."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from velocitas.sessions.broker import BrokerFill, PaperBroker, TransientBrokerError, WorkingOrder
from velocitas.sessions.guard import Account, RiskGuard
from velocitas.sessions.oms import ManualOrder, Oms

AT = datetime(2024, 1, 1, tzinfo=UTC)
RICH = Account(equity=Decimal(100_000), available=Decimal(100_000))


def _paper() -> PaperBroker:
    return PaperBroker(
        fee_rate=Decimal("0.001"), fee_fixed=Decimal("0.5"), slippage_bps=Decimal(10)
    )


def _guard(max_position: str | None = None) -> RiskGuard:
    return RiskGuard(
        fee_rate=Decimal("0.001"), fee_fixed=Decimal("0.5"), slippage_bps=Decimal(10),
        max_position=None if max_position is None else Decimal(max_position),
    )  # fmt: skip


def _order(**fields: Any) -> ManualOrder:
    data: dict[str, Any] = {"order_id": uuid.uuid4(), "symbol": "AAA", "side": "buy",
                            "order_type": "market", "quantity": Decimal(2)}  # fmt: skip
    data.update(fields)
    return ManualOrder(**data)


class FlakyBroker:
    """Fails `failures` times with a transient error, then fills like the paper broker."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[str] = []
        self.paper = _paper()

    def execute(self, order: WorkingOrder, tick_price: float) -> BrokerFill | None:
        self.calls.append(order.order_id)
        if self.failures > 0:
            self.failures -= 1
            raise TransientBrokerError("timeout")
        return self.paper.execute(order, tick_price)


def _types(events: list[Any]) -> list[str]:
    return [e.type for e in events]


def test_a_transient_error_is_retried_with_backoff_and_the_order_fills_once() -> None:
    broker, waits = FlakyBroker(failures=2), []
    oms = Oms(broker, _guard(), sleep=waits.append)
    order = _order()
    assert _types(oms.submit(order, 100.0, RICH, AT)) == ["order.accepted"]
    events = oms.on_tick("AAA", 100.0, AT)
    assert _types(events) == ["order.filled", "fill", "position.changed"]
    assert waits == [0.05, 0.1]
    assert broker.calls == [str(order.order_id)] * 3
    # Later ticks and a second submit of the same order send nothing more.
    assert oms.on_tick("AAA", 101.0, AT) == []
    assert oms.submit(order, 100.0, RICH, AT) == []
    assert broker.calls == [str(order.order_id)] * 3
    fill = events[1]
    assert fill.price == Decimal("100.10000000")  # 10 bps of slippage on a buy
    assert fill.fee == Decimal(2) * fill.price * Decimal("0.001") + Decimal("0.5")


def test_an_order_failing_every_try_waits_for_the_next_tick() -> None:
    broker, waits = FlakyBroker(failures=3), []
    oms = Oms(broker, _guard(), sleep=waits.append)
    oms.submit(_order(), 100.0, RICH, AT)
    assert oms.on_tick("AAA", 100.0, AT) == []
    assert len(broker.calls) == 3
    assert waits == [0.05, 0.1]  # bounded: three tries, then the next tick
    assert _types(oms.on_tick("AAA", 100.0, AT))[0] == "order.filled"


def test_a_limit_buy_fills_at_the_first_tick_at_or_below_its_price() -> None:
    oms = Oms(_paper(), _guard())
    oms.submit(_order(order_type="limit", limit_price=Decimal(99)), 100.0, RICH, AT)
    assert oms.on_tick("AAA", 99.5, AT) == []
    assert oms.on_tick("BBB", 90.0, AT) == []  # another symbol's tick
    events = oms.on_tick("AAA", 98.75, AT)
    assert events[1].price == Decimal("98.75000000")


def test_a_stop_loss_closes_the_position_at_the_first_tick_through_it() -> None:
    oms = Oms(_paper(), _guard())
    oms.submit(_order(stop_loss=Decimal(95)), 100.0, RICH, AT)
    oms.on_tick("AAA", 100.0, AT)
    assert oms.on_tick("AAA", 96.0, AT) == []
    events = oms.on_tick("AAA", 94.0, AT)
    assert events[0].reason == "stop_loss"
    assert events[1].side == "flat"
    assert oms.books["AAA"].quantity == 0
    assert oms.books["AAA"].realised < 0


def test_a_trailing_stop_follows_the_high_water_mark() -> None:
    oms = Oms(_paper(), _guard())
    oms.submit(_order(trailing_stop=Decimal("0.05")), 100.0, RICH, AT)
    oms.on_tick("AAA", 100.0, AT)
    for price in (104.0, 110.0, 105.0):  # 110 is the best; the level is 104.5
        assert oms.on_tick("AAA", price, AT) == []
    assert oms.books["AAA"].best == Decimal("110.00000000")
    assert oms.on_tick("AAA", 104.4, AT)[0].reason == "trailing_stop"


def test_the_guard_rejects_what_the_balance_cannot_pay_for_without_shrinking_it() -> None:
    oms = Oms(_paper(), _guard())
    poor = Account(equity=Decimal(1000), available=Decimal("150.25"))
    events = oms.submit(_order(), 100.0, poor, AT)
    assert _types(events) == ["order.rejected", "risk.rejected"]
    assert events[0].reason == "insufficient funds: order costs 200.90 with fees, 150.25 available"
    assert events[1].rule == "insufficient_funds"
    assert oms.working == {}


def test_the_guard_applies_max_position_kill_switch_and_daily_loss() -> None:
    capped = Oms(_paper(), _guard(max_position="0.1"))
    assert capped.submit(_order(), 100.0, Account(Decimal(1000), Decimal(1000)), AT)[1].rule == (
        "max_position"
    )
    for account, rule in (
        (Account(Decimal(1000), Decimal(1000), killed=True), "kill_switch"),
        (Account(Decimal(1000), Decimal(1000), halted_today=True), "daily_loss_limit"),
    ):
        assert Oms(_paper(), _guard()).submit(_order(), 100.0, account, AT)[1].rule == rule


def test_an_order_that_only_reduces_the_position_is_never_refused() -> None:
    oms = Oms(_paper(), _guard())
    oms.submit(_order(), 100.0, RICH, AT)
    oms.on_tick("AAA", 100.0, AT)
    broke = Account(Decimal(0), Decimal(0), killed=True)
    assert _types(oms.submit(_order(side="sell"), 100.0, broke, AT)) == ["order.accepted"]
