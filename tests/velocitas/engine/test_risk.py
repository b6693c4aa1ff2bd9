"""Sizing, lot rounding and the risk rules that may refuse an entry."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from tests.velocitas.engine.market import START_NS, run_rows, spec
from velocitas.domain.bars import BarArrays
from velocitas.engine import run_signals

FLAT = (10.0, 10.0, 10.0, 10.0)


def test_fixed_cash_rounds_down_to_the_lot() -> None:
    result = run_rows(
        [FLAT, (30, 30, 30, 30)] * 2, [1, 0, 0, 0],
        sizing={"mode": "fixed_cash", "value": "1000", "lot_size": "1"},
    )  # fmt: skip
    assert result.trades[0].quantity == Decimal(33)


def test_fraction_of_equity_includes_fees_in_the_budget() -> None:
    result = run_rows(
        [FLAT] * 4, [1, 1, 0, 0],
        sizing={"mode": "fraction_of_equity", "value": "1", "lot_size": "0.001"},
        fees={"rate": "0.01"},
    )  # fmt: skip
    (trade,) = result.trades
    # 10 000 / (10 × 1.01) = 990.099… → 990.099 units; cost 9999.9999 ≤ 10 000.
    assert trade.quantity == Decimal("990.099")
    assert result.rejections == []


def test_entry_the_account_cannot_pay_for_is_rejected_not_shrunk() -> None:
    result = run_rows([FLAT] * 4, [1, 1, 0, 0], sizing={"mode": "fixed_quantity", "value": "1001"})
    assert result.trades == []
    (rejection,) = result.rejections
    assert (rejection.reason, rejection.quantity, rejection.bar_index) == (
        "insufficient_funds", Decimal(1001), 1,
    )  # fmt: skip
    assert result.final_equity == Decimal(10_000)


def test_size_that_rounds_to_zero_lots_is_rejected() -> None:
    result = run_rows(
        [FLAT] * 4, [1, 1, 0, 0], sizing={"mode": "fixed_cash", "value": "5", "lot_size": "1"}
    )
    assert [r.reason for r in result.rejections] == ["size_below_lot"]


def test_entry_above_max_position_is_rejected() -> None:
    result = run_rows(
        [FLAT] * 4, [1, 1, 0, 0],
        sizing={"mode": "fixed_quantity", "value": "600", "lot_size": "1"},
        risk={"max_position": "0.5"},
    )  # fmt: skip
    assert [r.reason for r in result.rejections] == ["max_position"]


def test_rejected_entry_is_not_retried_until_the_signal_changes() -> None:
    result = run_rows(
        [FLAT] * 6, [1, 1, 1, 0, 1, 1], sizing={"mode": "fixed_quantity", "value": "2000"}
    )
    assert [r.bar_index for r in result.rejections] == [1, 5]


def test_daily_loss_limit_halts_entries_until_the_next_utc_day() -> None:
    day = 86_400 * 1_000_000_000
    minute = 60 * 1_000_000_000
    times = START_NS + np.asarray([0, 1, 2, 3, 4, 5], dtype=np.int64) * minute
    times[4:] = START_NS + day + np.asarray([0, 1]) * minute
    prices = np.asarray([100, 100, 80, 80, 80, 80], dtype=np.float64)
    bars = BarArrays("X", "1m", times, prices, prices, prices, prices, np.ones(6))
    run_spec = spec(
        ("X",),
        sizing={"mode": "fixed_quantity", "value": "50", "lot_size": "1"},
        fees={"rate": "0"},
        risk={"max_daily_loss": "0.05"},
        end=datetime(2030, 1, 1, tzinfo=UTC),
    )
    # Long 50 at 100 (bar 1), marked at 80 → −1000 (−10 %) → halted; exit at bar 3's open;
    # the entry asked for at bar 2's close (fills bar 3) is refused; the next day's is not.
    sides = np.asarray([1, 0, 1, 0, 1, 1], dtype=np.int8)
    result = run_signals(run_spec, [bars], [sides])
    assert [r.reason for r in result.rejections] == ["daily_loss_limit"]
    assert [t.entry_bar for t in result.trades] == [1, 5]


def test_drawdown_kill_switch_flattens_then_refuses_every_entry() -> None:
    rows = [FLAT, FLAT, (10, 10, 7, 7), (7, 7, 7, 7), (7, 7, 7, 7), (7, 7, 7, 7), (7, 7, 7, 7)]
    result = run_rows(
        rows, [1, 1, 1, 1, 0, 1, 1],
        sizing={"mode": "fixed_quantity", "value": "500"},
        risk={"max_drawdown": "0.1"},
    )  # fmt: skip
    (trade,) = result.trades
    assert (trade.exit_bar, trade.exit_reason) == (3, "kill_switch")
    assert [r.reason for r in result.rejections] == ["kill_switch"]
    assert result.rejections[0].bar_index == 5


def test_cooldown_blocks_entries_after_consecutive_losses() -> None:
    down = [(10, 10, 9, 9), (9, 9, 8, 8), (8, 8, 7, 7), (7, 7, 6, 6)]
    rows = [FLAT, *down, *down, FLAT, FLAT, FLAT, FLAT]
    sides = [1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0]
    result = run_rows(rows, sides, risk={"cooldown_losses": 2, "cooldown_bars": 5})
    # Losses close at bars 2 and 4 → entries refused through bar 4 + 5 = 9, allowed from 10.
    assert [t.entry_bar for t in result.trades] == [1, 3, 10]
    assert [r.bar_index for r in result.rejections] == [5]
    assert [r.reason for r in result.rejections] == ["cooldown"]


def test_kill_switch_in_same_close_mode_flattens_at_the_same_close() -> None:
    rows = [FLAT] * 2 + [(10, 10, 7, 7)] + [(7, 7, 7, 7)] * 3
    result = run_rows(
        rows, [1, 1, 1, 1, 1, 1], fill="same_close",
        sizing={"mode": "fixed_quantity", "value": "500", "lot_size": "1"},
        risk={"max_drawdown": "0.1"},
    )  # fmt: skip
    (trade,) = result.trades
    assert (trade.entry_bar, trade.exit_bar, trade.exit_reason) == (0, 2, "kill_switch")
    assert trade.exit_price == Decimal(7)
