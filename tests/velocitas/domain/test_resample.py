"""Resampling: a hand-computed example, refusals, and agreement with a plain groupby."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velocitas.domain.bars import BarArrays, to_epoch_ns
from velocitas.domain.resample import resample
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest

MINUTE_NS = 60 * 1_000_000_000
T10 = to_epoch_ns(datetime(2024, 3, 1, 10, 0, tzinfo=UTC))

# Twelve one-minute bars from 10:00, with 10:07 missing: minute -> open, high, low, close, volume.
MINUTES = {
    0: (10, 12, 9, 11, 1),
    1: (11, 15, 10, 14, 2),
    2: (14, 14, 8, 9, 3),
    3: (9, 10, 7, 10, 4),
    4: (10, 11, 9, 10.5, 5),
    5: (10.5, 13, 10, 12, 6),
    6: (12, 12.5, 11, 11.5, 7),
    8: (11.5, 16, 11, 15, 8),
    9: (15, 15.5, 6, 7, 9),
    10: (7, 8, 6.5, 7.5, 10),
    11: (7.5, 9, 7, 8.5, 11),
}


def _bars(rows: dict[int, tuple[float, ...]], timeframe: str = "1m") -> BarArrays:
    minutes = sorted(rows)
    columns = np.array([rows[m] for m in minutes], dtype=np.float64).reshape(-1, 5).T
    opened_at = np.array([T10 + m * MINUTE_NS for m in minutes], dtype=np.int64)
    return BarArrays("BTCUSDT", timeframe, opened_at, *columns)


def _table(bars: BarArrays) -> list[tuple[float, ...]]:
    return [
        ((t - T10) / MINUTE_NS, o, h, lo, c, v)
        for t, o, h, lo, c, v in zip(
            bars.opened_at.tolist(),
            bars.open.tolist(),
            bars.high.tolist(),
            bars.low.tolist(),
            bars.close.tolist(),
            bars.volume.tolist(),
            strict=True,
        )
    ]


def test_resample_minutes_to_5m_by_hand() -> None:
    five = resample(_bars(MINUTES), "5m")
    assert five.timeframe == Timeframe.M5
    assert _table(five) == [
        # minute, open, high, low, close, volume
        (0, 10, 15, 7, 10.5, 15),
        (5, 10.5, 16, 6, 7, 30),  # 10:07 is missing: four bars
        (10, 7, 9, 6.5, 8.5, 21),  # partial trailing bucket: two bars
    ]


def test_resample_minutes_to_1h_by_hand() -> None:
    assert _table(resample(_bars(MINUTES), Timeframe.H1)) == [(0, 10, 16, 6, 8.5, 66)]


def test_resample_bucket_without_bars_is_absent_not_filled() -> None:
    rows = {m: v for m, v in MINUTES.items() if not 5 <= m <= 9}
    assert [row[0] for row in _table(resample(_bars(rows), "5m"))] == [0, 10]


def test_resample_buckets_align_to_the_utc_epoch_grid() -> None:
    # 4h bars open at 00, 04, 08 … UTC; a 10:00 bar belongs to the 08:00 bucket.
    four = resample(_bars(MINUTES), "4h")
    assert four.opened_at.tolist() == [to_epoch_ns(datetime(2024, 3, 1, 8, tzinfo=UTC))]
    day = resample(_bars(MINUTES), "1d")
    assert day.opened_at.tolist() == [to_epoch_ns(datetime(2024, 3, 1, tzinfo=UTC))]


def test_resample_to_the_same_timeframe_returns_the_bars() -> None:
    bars = _bars(MINUTES)
    assert resample(bars, "1m") is bars


def test_resample_from_an_intermediate_timeframe_matches_direct() -> None:
    bars = _bars(MINUTES)
    via_5m = resample(resample(bars, "5m"), "15m")
    assert via_5m.equals(resample(bars, "15m"))


@pytest.mark.parametrize(("source", "target"), [("1h", "5m"), ("1d", "4h"), ("5m", "1m")])
def test_resample_to_a_finer_timeframe_is_refused(source: str, target: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        resample(_bars(MINUTES, source), target)
    assert caught.value.field == "timeframe"


def test_resample_empty_bars_gives_empty_target() -> None:
    empty = resample(BarArrays.empty("X", "1m"), "1h")
    assert len(empty) == 0
    assert empty.timeframe == Timeframe.H1


def _floor(ns: int, target: Timeframe) -> int:
    # With datetime, independently of Timeframe's own grid arithmetic.
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)
    if target is Timeframe.MO1:
        return to_epoch_ns(datetime(moment.year, moment.month, 1, tzinfo=UTC))
    if target is Timeframe.W1:
        day = moment.date() - timedelta(days=moment.weekday())
        return to_epoch_ns(datetime(day.year, day.month, day.day, tzinfo=UTC))
    step = target.seconds * 1_000_000_000
    return ns // step * step


def _groupby(bars: BarArrays, target: Timeframe) -> list[tuple[float, ...]]:
    """The obvious implementation: walk the bars, group by floored open time."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, t in enumerate(bars.opened_at.tolist()):
        groups[_floor(t, target)].append(i)
    out = []
    for bucket in sorted(groups):
        idx = groups[bucket]
        volume = 0.0
        for i in idx:
            volume += float(bars.volume[i])
        out.append(
            (
                bucket,
                float(bars.open[idx[0]]),
                max(float(bars.high[i]) for i in idx),
                min(float(bars.low[i]) for i in idx),
                float(bars.close[idx[-1]]),
                volume,
            )
        )
    return out


prices = st.floats(min_value=1e-8, max_value=1e9, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(
    minutes=st.lists(
        st.integers(min_value=-3_000_000, max_value=3_000_000), unique=True, max_size=300
    ),
    data=st.data(),
    target=st.sampled_from([t for t in Timeframe if t is not Timeframe.M1]),
)
def test_resample_equals_a_plain_python_groupby(
    minutes: list[int], data: st.DataObject, target: Timeframe
) -> None:
    minutes.sort()
    values = data.draw(
        st.lists(st.tuples(*[prices] * 5), min_size=len(minutes), max_size=len(minutes))
    )
    opened_at = np.array([m * MINUTE_NS for m in minutes], dtype=np.int64)
    columns = np.array(values, dtype=np.float64).reshape(-1, 5).T
    bars = BarArrays("X", "1m", opened_at, *columns)

    got = resample(bars, target)
    expected = _groupby(bars, target)

    assert got.opened_at.tolist() == [row[0] for row in expected]
    for i, name in enumerate(("open", "high", "low", "close"), start=1):
        assert getattr(got, name).tolist() == [row[i] for row in expected], name
    # numpy may add a long bucket pairwise rather than left to right: equal to rounding.
    assert got.volume.tolist() == pytest.approx([row[5] for row in expected], rel=1e-12)
