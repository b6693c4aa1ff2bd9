"""Trade and Fill: construction, immutability, and a `to_dict` that never changes (every stored
result and the result hash's breakdown are made of it)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from velocitas.domain import Fill, OrderSide, PositionSide, Trade

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 1, 3, 0, 0, 500, tzinfo=UTC)

TRADE = Trade(
    leg=1,
    symbol="BTCUSDT",
    strategy="sma_cross",
    side=PositionSide.SHORT,
    quantity=Decimal("0.00100000"),
    entry_bar=4,
    entry_at=T0,
    entry_price=Decimal("42000.12345678"),
    exit_bar=7,
    exit_at=T1,
    exit_price=Decimal("41000"),
    gross_pnl=Decimal("1.00012345678"),
    fees=Decimal("1E-8"),
    net_pnl=Decimal("1.00012344678"),
    exit_reason="stop_loss",
)


def test_trade_to_dict_keys_order_and_spelling_are_fixed() -> None:
    assert orjson.dumps(TRADE.to_dict()) == (
        b'{"leg":1,"symbol":"BTCUSDT","strategy":"sma_cross","side":"short",'
        b'"quantity":"0.00100000","entry_bar":4,"entry_at":"2024-01-01T00:00:00Z",'
        b'"entry_price":"42000.12345678","exit_bar":7,"exit_at":"2024-01-01T03:00:00.000500Z",'
        b'"exit_price":"41000","gross_pnl":"1.00012345678","fees":"0.00000001",'
        b'"net_pnl":"1.00012344678","exit_reason":"stop_loss"}'
    )
    assert type(TRADE.to_dict()["side"]) is str


def test_trade_return_fraction_is_net_over_entry_notional() -> None:
    assert TRADE.return_fraction == float(
        Decimal("1.00012344678") / (Decimal("0.001") * Decimal("42000.12345678"))
    )


def test_trade_and_fill_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TRADE.net_pnl = Decimal(0)  # type: ignore[misc]


def test_fill_to_dict_keys_order_and_spelling_are_fixed() -> None:
    fill = Fill(
        leg=0,
        symbol="ETHUSDT",
        bar_index=12,
        filled_at=T1,
        side=OrderSide.SELL,
        quantity=Decimal("2"),
        price=Decimal("2500.5"),
        fee=Decimal("0.0025005"),
        reason="signal",
    )
    assert orjson.dumps(fill.to_dict()) == (
        b'{"leg":0,"symbol":"ETHUSDT","bar_index":12,"filled_at":"2024-01-01T03:00:00.000500Z",'
        b'"side":"sell","quantity":"2","price":"2500.5","fee":"0.0025005","reason":"signal"}'
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        fill.price = Decimal(0)  # type: ignore[misc]
