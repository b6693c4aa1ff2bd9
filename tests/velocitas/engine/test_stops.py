"""Stops inside a run: activation, exit prices, re-entry, ATR distances."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from tests.velocitas.engine.market import bars_from, run_rows
from velocitas.indicators import atr

PERCENT_SL = {"stop_loss": {"kind": "percent", "value": "0.05"}}


def test_stop_loss_can_fire_on_the_entry_bar_after_a_next_open_fill() -> None:
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 94, 97), (97, 98, 96, 97)]
    result = run_rows(rows, [0, 1, 1, 1], stops=PERCENT_SL)
    (trade,) = result.trades
    assert (trade.entry_bar, trade.exit_bar) == (2, 2)
    assert (trade.exit_price, trade.exit_reason) == (Decimal(95), "stop_loss")


def test_stop_loss_is_not_checked_on_the_entry_bar_of_a_same_close_fill() -> None:
    rows = [(100, 101, 99, 100), (100, 101, 90, 100), (100, 101, 94, 97), (97, 98, 96, 97)]
    result = run_rows(rows, [0, 1, 1, 1], stops=PERCENT_SL, fill="same_close")
    (trade,) = result.trades
    assert (trade.entry_bar, trade.exit_bar, trade.exit_reason) == (1, 2, "stop_loss")


def test_stop_loss_gapped_through_fills_at_the_open() -> None:
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 99, 100), (90, 92, 88, 91)]
    result = run_rows(rows, [0, 1, 1, 1], stops=PERCENT_SL)
    (trade,) = result.trades
    assert (trade.exit_bar, trade.exit_price, trade.exit_reason) == (3, Decimal(90), "stop_loss")


def test_take_profit_fills_at_its_level_without_slippage() -> None:
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (100, 111, 99, 104), (104, 105, 103, 104)]
    stops = {"take_profit": {"kind": "percent", "value": "0.1"}}
    result = run_rows(rows, [0, 1, 1, 1], stops=stops, slippage_bps="10")
    (trade,) = result.trades
    assert trade.entry_price == Decimal("100.1")
    assert trade.exit_reason == "take_profit"
    assert trade.exit_price == Decimal("110.11")


def test_stopped_out_side_waits_for_the_signal_to_leave_it() -> None:
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 94, 97)] + [(97, 98, 96, 97)] * 4
    result = run_rows(rows, [0, 1, 1, 1, 0, 1, 1], stops=PERCENT_SL)
    first, second = result.trades
    assert first.exit_reason == "stop_loss"
    assert second.entry_bar == 6  # signal 0 at bar 4, +1 again at bar 5 → fills at bar 6's open


def test_trailing_stop_exits_after_the_price_retreats_from_its_best() -> None:
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (100, 120, 99, 119), (119, 119, 100, 101)]
    stops = {"trailing_stop": {"kind": "percent", "value": "0.1"}}
    result = run_rows(rows, [0, 1, 1, 1], stops=stops)
    (trade,) = result.trades
    assert trade.exit_reason == "trailing_stop"
    assert trade.exit_bar == 3
    assert trade.exit_price == Decimal(108)  # the best price 120 (bar 2's high) × 0.9


def test_atr_stop_uses_the_atr_known_when_the_order_was_decided() -> None:
    rng = np.random.default_rng(3)
    closes = 100 + np.cumsum(rng.normal(0, 0.5, 30))
    rows = [(c, c + 1.0, c - 1.0, c) for c in closes]
    rows.append((closes[-1], closes[-1] + 0.5, closes[-1] - 50, closes[-1]))
    sides = [0] * 20 + [1] * 11
    stops = {"stop_loss": {"kind": "atr", "value": "2", "atr_period": 5}}
    result = run_rows(rows, sides, stops=stops)
    (trade,) = result.trades
    bars = bars_from(rows)
    decided_atr = atr(bars.high, bars.low, bars.close, 5)[20]
    assert trade.entry_bar == 21
    assert trade.exit_reason == "stop_loss"
    assert float(trade.exit_price) == pytest.approx(float(trade.entry_price) - 2 * decided_atr)


def test_atr_trailing_stop_trails_by_the_last_completed_bars_atr() -> None:
    # Every bar spans 2 (true range 2, so ATR 2 once warm); a rally to 120 then a drop.
    rows = [(100.0, 101.0, 99.0, 100.0)] * 6 + [(100, 121, 119, 120), (120, 121, 100, 101)]
    stops = {"trailing_stop": {"kind": "atr", "value": "1.5", "atr_period": 3}}
    result = run_rows(rows, [0, 0, 0, 1, 1, 1, 1, 1], stops=stops)
    (trade,) = result.trades
    bars = bars_from(rows)
    previous_atr = atr(bars.high, bars.low, bars.close, 3)[6]
    assert trade.exit_reason == "trailing_stop"
    assert trade.exit_bar == 7
    assert float(trade.exit_price) == pytest.approx(121 - 1.5 * previous_atr)
