"""BacktestSpec validation: the REST request schema of a backtest."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from velocitas.engine import BacktestSpec

BASE: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 50}},
    "timeframe": "1h",
    "start": "2024-01-01T00:00:00Z",
    "end": "2024-02-01T00:00:00Z",
    "initial_cash": "10000",
}


def test_backtest_spec_shorthand_becomes_one_leg() -> None:
    spec = BacktestSpec.model_validate(BASE)
    (leg,) = spec.legs
    assert (leg.symbol, leg.strategy.name, leg.weight) == ("BTCUSDT", "sma_cross", Decimal(1))
    assert spec.fill == "next_open"
    assert spec.stops.intrabar_path == "pessimistic"
    assert spec.fees.rate == Decimal("0.001")


def test_backtest_spec_round_trips_money_as_decimal_strings() -> None:
    spec = BacktestSpec.model_validate(BASE | {"initial_cash": "10000.12345678"})
    dumped = spec.model_dump(mode="json")
    assert dumped["initial_cash"] == "10000.12345678"
    assert BacktestSpec.model_validate(dumped) == spec


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end": "2023-12-01T00:00:00Z"}, "end"),
        ({"timeframe": "7m"}, "timeframe"),
        ({"initial_cash": "0"}, "initial_cash"),
        ({"fill": "next_close"}, "fill"),
        ({"sizing": {"mode": "fraction_of_equity", "value": "1.5"}}, "sizing"),
        ({"stops": {"stop_loss": {"kind": "percent", "value": "2"}}}, "stop_loss"),
        ({"risk": {"cooldown_losses": 3}}, "cooldown"),
        ({"leverage": 3}, "leverage"),
        ({"legs": []}, "legs"),
    ],
)
def test_backtest_spec_refuses_bad_input_naming_the_problem(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        BacktestSpec.model_validate(BASE | change)
    assert field in str(info.value)


def test_backtest_spec_reads_naive_times_as_utc_and_defaults_the_cash() -> None:
    naive = {k: v for k, v in BASE.items() if k != "initial_cash"} | {"start": "2024-01-01"}
    spec = BacktestSpec.model_validate(naive)
    assert spec.start == datetime(2024, 1, 1, tzinfo=UTC)
    assert spec.initial_cash == Decimal(10_000)


def test_backtest_spec_is_frozen() -> None:
    spec = BacktestSpec.model_validate(BASE)
    with pytest.raises(ValidationError):
        spec.allow_short = True  # type: ignore[misc]
