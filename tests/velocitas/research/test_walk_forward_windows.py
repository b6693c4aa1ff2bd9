"""Walk-forward windows: calendar months from `start`, fold counts without building the folds,
and the refusals of windows shorter than a few bars and of too many folds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from velocitas.errors import InvalidRequest
from velocitas.research.walk_forward import check_windows, count_folds, plan_folds
from velocitas.timeparse import parse_duration


def _at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def test_month_windows_clamp_to_month_ends_without_drifting() -> None:
    one = parse_duration("1mo")
    folds = plan_folds(_at(2024, 1, 31), _at(2024, 6, 1), one, one)
    assert [(f.out_of_sample_start, f.out_of_sample_end) for f in folds] == [
        (_at(2024, 2, 29), _at(2024, 3, 31)),
        (_at(2024, 3, 31), _at(2024, 4, 30)),
        (_at(2024, 4, 30), _at(2024, 5, 31)),
        (_at(2024, 5, 31), _at(2024, 6, 1)),
    ]
    assert folds[1].in_sample_start == _at(2024, 2, 29)


def test_years_and_anchored_months() -> None:
    folds = plan_folds(
        _at(2005, 1, 31), _at(2009, 1, 1), parse_duration("2y"), parse_duration("6mo"),
        anchored=True,
    )  # fmt: skip
    assert [f.out_of_sample_start for f in folds] == [
        _at(2007, 1, 31), _at(2007, 7, 31), _at(2008, 1, 31), _at(2008, 7, 31)
    ]  # fmt: skip
    assert {f.in_sample_start for f in folds} == {_at(2005, 1, 31)}


@pytest.mark.parametrize(
    ("in_sample", "out_of_sample"),
    [("30d", "3d"), ("1y", "1mo"), ("6mo", "6mo"), ("90d", "1mo"), ("2y", "45d"), ("1w", "1d")],
)
@pytest.mark.parametrize("end", [_at(2009, 1, 1), _at(2008, 12, 31), _at(2006, 3, 1)])
def test_count_folds_equals_the_folds_planned(
    in_sample: str, out_of_sample: str, end: datetime
) -> None:
    start = _at(2005, 1, 31)
    windows = parse_duration(in_sample), parse_duration(out_of_sample)
    planned = plan_folds(start, end, *windows) if start + windows[0] < end else []
    assert count_folds(start, end, *windows) == len(planned)


def test_check_windows_refuses_windows_shorter_than_three_bars() -> None:
    start, end = _at(2005, 1, 1), _at(2013, 1, 1)
    with pytest.raises(InvalidRequest, match="out_of_sample 6m is 6 minutes, shorter than 3 bars"):
        check_windows(start, end, parse_duration("6mo"), parse_duration("6m"), timeframe="1d")
    with pytest.raises(
        InvalidRequest, match="in_sample 2mo is 2 months, shorter than 3 bars of 1mo"
    ):
        check_windows(start, end, parse_duration("2mo"), parse_duration("1y"), timeframe="1mo")
    three_days = parse_duration("3d")
    assert check_windows(start, end, three_days, three_days, timeframe="1d", max_folds=2000)


def test_check_windows_refuses_more_folds_than_the_limit_saying_how_many() -> None:
    start, end = _at(2005, 1, 1), _at(2013, 1, 1)
    windows = parse_duration("30d"), parse_duration("3d")
    count = -((start + timedelta(days=30) - end) // timedelta(days=3))
    assert check_windows(start, end, *windows, timeframe="1d", max_folds=count) == count
    with pytest.raises(InvalidRequest, match=f"into {count} folds; at most {count - 1}") as no:
        check_windows(start, end, *windows, timeframe="1d", max_folds=count - 1)
    assert no.value.field == "out_of_sample"
