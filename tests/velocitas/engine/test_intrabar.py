"""The intrabar path walk: which level fires first, at what price."""

from __future__ import annotations

import math

import pytest

from velocitas.engine.codes import (
    PATH_ADAPTIVE,
    PATH_OHLC,
    PATH_PESSIMISTIC,
    REASON_STOP_LOSS,
    REASON_TAKE_PROFIT,
    REASON_TRAILING_STOP,
    STOP_NONE,
    STOP_PERCENT,
)
from velocitas.engine.intrabar import walk_bar

NAN = math.nan


def _walk(side, o, h, low, c, sl, tp, path, trail=0.0, extreme=None):  # type: ignore[no-untyped-def]
    kind = STOP_PERCENT if trail else STOP_NONE
    start = o if extreme is None else extreme
    return walk_bar(side, o, h, low, c, sl, tp, kind, trail, NAN, start, path)


def test_walk_bar_pessimistic_long_takes_the_stop_when_both_could_hit() -> None:
    reason, price, _ = _walk(1, 100.0, 106.0, 94.0, 101.0, 95.0, 105.0, PATH_PESSIMISTIC)
    assert (reason, price) == (REASON_STOP_LOSS, 95.0)


def test_walk_bar_pessimistic_short_takes_the_stop_when_both_could_hit() -> None:
    reason, price, _ = _walk(-1, 100.0, 106.0, 94.0, 101.0, 105.0, 95.0, PATH_PESSIMISTIC)
    assert (reason, price) == (REASON_STOP_LOSS, 105.0)


def test_walk_bar_ohlc_visits_the_high_first() -> None:
    reason, price, _ = _walk(1, 100.0, 106.0, 94.0, 101.0, 95.0, 105.0, PATH_OHLC)
    assert (reason, price) == (REASON_TAKE_PROFIT, 105.0)


@pytest.mark.parametrize(
    ("high", "low", "expected"),
    [(106.0, 90.0, REASON_TAKE_PROFIT), (110.0, 94.0, REASON_STOP_LOSS)],
)
def test_walk_bar_adaptive_visits_the_nearer_extreme_first(
    high: float, low: float, expected: int
) -> None:
    reason, _, _ = _walk(1, 100.0, high, low, 101.0, 95.0, 105.0, PATH_ADAPTIVE)
    assert reason == expected


def test_walk_bar_gap_through_stop_fills_at_the_open() -> None:
    reason, price, _ = _walk(1, 90.0, 92.0, 89.0, 91.0, 95.0, 105.0, PATH_PESSIMISTIC, extreme=100)
    assert (reason, price) == (REASON_STOP_LOSS, 90.0)


def test_walk_bar_gap_through_take_profit_fills_at_the_open() -> None:
    reason, price, _ = _walk(-1, 90.0, 92.0, 89.0, 91.0, 105.0, 95.0, PATH_PESSIMISTIC, extreme=100)
    assert (reason, price) == (REASON_TAKE_PROFIT, 90.0)


def test_walk_bar_trailing_stop_follows_the_high_reached_within_the_bar() -> None:
    # O-L-H-C: low 99 is above the trail (95); the high lifts it to 104.5; the close falls to it.
    reason, price, extreme = _walk(1, 100.0, 110.0, 99.0, 104.0, NAN, NAN, PATH_PESSIMISTIC, 0.05)
    assert reason == REASON_TRAILING_STOP
    assert price == pytest.approx(104.5)
    assert extreme == 110.0


def test_walk_bar_quiet_bar_fires_nothing_and_tracks_the_best_price() -> None:
    reason, price, extreme = _walk(1, 100.0, 103.0, 99.0, 102.0, 95.0, 105.0, PATH_PESSIMISTIC, 0.1)
    assert reason == 0
    assert math.isnan(price)
    assert extreme == 103.0
