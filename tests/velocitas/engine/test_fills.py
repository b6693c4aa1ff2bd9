"""Fill timing, prices, fees and slippage on hand-written bars."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from tests.velocitas.engine.market import bars_from, spec
from velocitas.engine import run_signals

ROWS = [
    (10.0, 10.5, 9.5, 10.0),
    (10.0, 11.0, 9.8, 10.8),
    (11.0, 11.5, 10.5, 11.2),
    (11.2, 12.0, 11.0, 11.8),
    (12.0, 12.5, 11.5, 12.2),
    (12.2, 12.4, 11.9, 12.0),
]
UNIT = {"mode": "fixed_quantity", "value": "2", "lot_size": "1"}


def _run(sides: list[int], **overrides: object):  # type: ignore[no-untyped-def]
    bars = bars_from(ROWS, symbol="X")
    run_spec = spec(("X",), **({"sizing": UNIT, "fees": {"rate": "0"}} | overrides))
    return run_signals(run_spec, [bars], [np.asarray(sides, dtype=np.int8)])


def test_run_signals_next_open_fills_at_next_bars_open() -> None:
    result = _run([0, 1, 1, 0, 0, 0])
    (trade,) = result.trades
    assert (trade.entry_bar, trade.entry_price) == (2, Decimal("11"))
    assert (trade.exit_bar, trade.exit_price) == (4, Decimal("12"))
    assert trade.quantity == Decimal(2)
    assert trade.gross_pnl == Decimal(2)
    assert trade.exit_reason == "signal"
    assert result.final_equity == Decimal(10_002)


def test_run_signals_same_close_fills_at_the_signal_bars_close() -> None:
    result = _run([0, 1, 1, 0, 0, 0], fill="same_close")
    (trade,) = result.trades
    assert (trade.entry_bar, trade.entry_price) == (1, Decimal("10.8"))
    assert (trade.exit_bar, trade.exit_price) == (3, Decimal("11.8"))


def test_run_signals_fees_are_proportional_plus_fixed_per_order() -> None:
    result = _run([0, 1, 1, 0, 0, 0], fees={"rate": "0.001", "fixed": "0.5"})
    (trade,) = result.trades
    entry_fee = Decimal("22") * Decimal("0.001") + Decimal("0.5")
    exit_fee = Decimal("24") * Decimal("0.001") + Decimal("0.5")
    assert trade.fees == entry_fee + exit_fee
    assert trade.net_pnl == Decimal(2) - entry_fee - exit_fee
    assert result.final_equity == Decimal(10_000) + trade.net_pnl


def test_run_signals_slippage_makes_buys_pay_up_and_sells_receive_less() -> None:
    result = _run([0, 1, 1, 0, 0, 0], slippage_bps="10")
    (trade,) = result.trades
    assert trade.entry_price == Decimal("11") * Decimal("1.001")
    assert trade.exit_price == Decimal("12") * Decimal("0.999")


def test_run_signals_short_profits_when_price_falls() -> None:
    falling = [(r[3], r[1], r[2], r[0]) for r in reversed(ROWS)]
    bars = bars_from(falling, symbol="X")
    run_spec = spec(("X",), sizing=UNIT, fees={"rate": "0"}, allow_short=True)
    result = run_signals(run_spec, [bars], [np.asarray([0, -1, -1, 0, 0, 0], dtype=np.int8)])
    (trade,) = result.trades
    assert trade.side == "short"
    assert trade.gross_pnl == Decimal(2) * (trade.entry_price - trade.exit_price)
    assert trade.gross_pnl > 0


def test_run_signals_ignores_short_sides_when_shorting_is_off() -> None:
    result = _run([0, -1, -1, 0, 0, 0])
    assert result.trades == []
    assert result.final_equity == Decimal(10_000)


def test_run_signals_reversal_closes_then_opens_at_the_same_open() -> None:
    result = _run([0, 1, -1, -1, 0, 0], allow_short=True)
    first, second = result.trades
    assert (first.side, first.exit_bar, first.exit_reason) == ("long", 3, "signal")
    assert (second.side, second.entry_bar) == ("short", 3)
    assert first.exit_price == second.entry_price == Decimal("11.2")


def test_run_signals_closes_open_position_at_last_close_as_end_of_data() -> None:
    result = _run([0, 1, 1, 1, 1, 1])
    (trade,) = result.trades
    assert (trade.exit_bar, trade.exit_price, trade.exit_reason) == (5, Decimal(12), "end_of_data")
    assert result.equity.equity[-1] == pytest.approx(float(result.final_equity), rel=1e-12)


def test_run_signals_equity_is_marked_at_each_close() -> None:
    result = _run([0, 1, 1, 0, 0, 0])
    # Long 2 units from bar 2's open (11): bar 2 closes at 11.2, bar 3 at 11.8.
    assert result.equity.equity.tolist() == pytest.approx(
        [10_000, 10_000, 10_000.4, 10_001.6, 10_002, 10_002]
    )
