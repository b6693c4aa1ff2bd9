"""Timeframes: parsing (`1M` is refused), the weekly and monthly grids, resampling to them."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from backtesting.test import GOOG

from velocitas.domain.bars import BarArrays, to_epoch_ns
from velocitas.domain.resample import can_resample, resample
from velocitas.domain.timeframe import Timeframe
from velocitas.metrics import periods_per_year


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1m", Timeframe.M1),
        ("1H", Timeframe.H1),
        ("1w", Timeframe.W1),
        ("1W", Timeframe.W1),
        ("1mo", Timeframe.MO1),
        ("1MO", Timeframe.MO1),
        (" 1Mo ", Timeframe.MO1),
    ],
)
def test_parse_reads_any_case_that_is_not_ambiguous(text: str, expected: Timeframe) -> None:
    assert Timeframe.parse(text) is expected


def test_parse_refuses_upper_m_naming_both_readings() -> None:
    with pytest.raises(ValueError, match="1M is ambiguous: write 1m for one minute or 1mo for one"):
        Timeframe.parse("1M")
    with pytest.raises(ValueError, match="15m for 15 minutes or 15mo for 15 months"):
        Timeframe.parse("15M")


def test_floor_and_ceil_on_the_epoch_grid_as_before() -> None:
    moment = _at(2024, 3, 1, 10, 7, 30)
    assert Timeframe.H1.floor(moment) == _at(2024, 3, 1, 10)
    assert Timeframe.H1.ceil(moment) == _at(2024, 3, 1, 11)
    assert Timeframe.H4.ceil(_at(2024, 3, 1, 8)) == _at(2024, 3, 1, 8)
    assert Timeframe.H1.floor(_at(1969, 12, 31, 23, 30)) == _at(1969, 12, 31, 23)
    assert Timeframe.D1.add(_at(2024, 2, 28), 2) == _at(2024, 3, 1)


def test_weeks_open_on_monday_midnight_utc() -> None:
    assert Timeframe.W1.floor(_at(2024, 1, 7, 23, 59)) == _at(2024, 1, 1)  # Sunday -> Monday
    assert Timeframe.W1.floor(_at(1970, 1, 1)) == _at(1969, 12, 29)
    assert Timeframe.W1.is_aligned(_at(2024, 1, 8))
    assert not Timeframe.W1.is_aligned(_at(2024, 1, 4))  # epoch-aligned, but a Thursday
    assert Timeframe.W1.bars_in(_at(2024, 1, 1), _at(2024, 2, 1)) == 5


def test_months_open_on_the_first_and_have_no_fixed_length() -> None:
    month = Timeframe.MO1
    assert month.floor(_at(2024, 2, 29, 12)) == _at(2024, 2, 1)
    assert month.ceil(_at(2024, 2, 1, 0, 0, 1)) == _at(2024, 3, 1)
    assert month.add(_at(2024, 1, 1), 13) == _at(2025, 2, 1)
    assert month.add(_at(2024, 1, 1), -1) == _at(2023, 12, 1)
    assert month.floor(_at(1969, 7, 20, 20, 17)) == _at(1969, 7, 1)
    assert month.bars_in(_at(2024, 1, 1), _at(2025, 1, 1)) == 12
    assert month.bars_in(_at(2024, 1, 2), _at(2024, 2, 1)) == 0
    assert round(month.nominal_seconds / 86_400, 4) == 30.4375
    with pytest.raises(ValueError, match="no fixed length"):
        _ = month.seconds
    assert periods_per_year("1mo") == 12.0
    assert periods_per_year("1w") == pytest.approx(52.18, abs=0.01)


def test_resample_rules_for_weeks_and_months() -> None:
    assert can_resample(Timeframe.D1, Timeframe.MO1)
    assert can_resample(Timeframe.H4, Timeframe.W1)
    assert not can_resample(Timeframe.W1, Timeframe.MO1)  # weeks straddle months
    assert not can_resample(Timeframe.MO1, Timeframe.D1)


def _goog_daily() -> BarArrays:
    frame = GOOG.loc["2004-12-20":"2005-02-10"]
    opened = np.array(
        [to_epoch_ns(datetime(d.year, d.month, d.day, tzinfo=UTC)) for d in frame.index]
    )
    columns = [frame[c].to_numpy(dtype=np.float64) for c in ("Open", "High", "Low", "Close")]
    return BarArrays("GOOG", "1d", opened, *columns, frame["Volume"].to_numpy(np.float64))


def test_resample_a_month_of_daily_stock_bars_to_one_monthly_bar() -> None:
    monthly = resample(_goog_daily(), "1mo")
    assert monthly.opened_at.tolist() == [
        to_epoch_ns(_at(2004, 12, 1)),
        to_epoch_ns(_at(2005, 1, 1)),
        to_epoch_ns(_at(2005, 2, 1)),
    ]
    # January 2005 by hand: 20 sessions, the 3rd to the 31st.
    january = [monthly.open[1], monthly.high[1], monthly.low[1], monthly.close[1]]
    assert january == [197.40, 205.30, 176.29, 195.62]
    assert monthly.volume[1] == 205_164_900


def test_resample_daily_stock_bars_to_weeks_from_monday() -> None:
    weekly = resample(_goog_daily(), "1w")
    first_full = weekly.opened_at.tolist().index(to_epoch_ns(_at(2005, 1, 3)))
    # Monday 3 to Friday 7 January 2005 by hand.
    week = [weekly.open[first_full], weekly.high[first_full], weekly.low[first_full]]
    assert week == [197.40, 203.64, 187.72]
    assert weekly.close[first_full] == 193.85
    assert weekly.volume[first_full] == 57_886_700
    assert Timeframe.W1.is_aligned_ns(weekly.opened_at).all()
