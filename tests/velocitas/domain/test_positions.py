"""Position: flat or held, never in between."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from velocitas.domain import Position, PositionSide

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_position_flat_holds_nothing() -> None:
    flat = Position.flat(1, "ETHUSDT")
    assert (flat.leg, flat.symbol, flat.side, flat.quantity) == (1, "ETHUSDT", "flat", 0)
    assert (flat.entry_price, flat.opened_at) == (None, None)


def test_position_held_has_quantity_price_and_opening() -> None:
    held = Position(0, "BTCUSDT", PositionSide.SHORT, Decimal("0.25"), Decimal("42000"), T0)
    assert held.side is PositionSide.SHORT
    with pytest.raises(dataclasses.FrozenInstanceError):
        held.quantity = Decimal(1)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("side", "quantity", "price", "opened_at"),
    [
        (PositionSide.FLAT, Decimal(1), None, None),
        (PositionSide.FLAT, Decimal(0), Decimal(1), None),
        (PositionSide.LONG, Decimal(0), Decimal(1), T0),
        (PositionSide.LONG, Decimal(1), None, T0),
        (PositionSide.LONG, Decimal(1), Decimal(1), datetime(2024, 1, 1)),
    ],
)
def test_position_refuses_inconsistent_fields(
    side: PositionSide, quantity: Decimal, price: Decimal | None, opened_at: datetime | None
) -> None:
    with pytest.raises(ValueError, match="position"):
        Position(0, "BTCUSDT", side, quantity, price, opened_at)
