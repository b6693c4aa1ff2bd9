"""Order: construction, the invariants it refuses to break, immutability."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from velocitas.domain import Order, OrderSide, OrderStatus, OrderType

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _order(**changes: Any) -> Order:
    fields: dict[str, Any] = {
        "id": uuid.UUID(int=1),
        "leg": 0,
        "symbol": "BTCUSDT",
        "side": OrderSide.BUY,
        "type": OrderType.MARKET,
        "quantity": Decimal("0.5"),
        "created_at": T0,
    }
    return Order(**{**fields, **changes})


def test_order_defaults_to_a_submitted_order_without_exits() -> None:
    order = _order()
    assert order.status is OrderStatus.SUBMITTED
    assert (order.limit_price, order.stop_loss, order.take_profit, order.trailing_stop) == (
        None,
        None,
        None,
        None,
    )
    assert order.client_order_id is None


def test_order_limit_carries_its_price_and_protective_exits() -> None:
    order = _order(
        type=OrderType.LIMIT,
        limit_price=Decimal("42000"),
        stop_loss=Decimal("41000"),
        take_profit=Decimal("44000"),
        trailing_stop=Decimal("500"),
        client_order_id="mine-1",
    )
    assert order.limit_price == Decimal("42000")
    assert order.client_order_id == "mine-1"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"quantity": Decimal(0)}, "quantity must be positive"),
        ({"type": OrderType.LIMIT}, "limit order needs a limit_price"),
        ({"limit_price": Decimal(1)}, "only a limit order has one"),
        ({"stop_loss": Decimal("-1")}, "stop_loss must be positive"),
        ({"created_at": datetime(2024, 1, 1)}, "timezone-aware"),
    ],
)
def test_order_refuses_inconsistent_fields(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _order(**changes)


def test_order_is_immutable() -> None:
    order = _order()
    with pytest.raises(dataclasses.FrozenInstanceError):
        order.status = OrderStatus.FILLED  # type: ignore[misc]


def test_order_status_finished_only_when_it_can_change_no_more() -> None:
    finished = {s for s in OrderStatus if s.finished}
    assert finished == {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED}


def test_order_enums_spell_their_values_in_lower_case() -> None:
    assert [s.value for s in OrderSide] == ["buy", "sell"]
    assert [t.value for t in OrderType] == ["market", "limit"]
    assert f"{OrderSide.BUY}" == "buy"
