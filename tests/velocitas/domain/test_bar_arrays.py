"""BarArrays helpers added for reading: time windows, equality, epoch conversion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from velocitas.domain.bars import BarArrays, from_epoch_ns, to_epoch_ns

T0 = datetime(2024, 3, 1, tzinfo=UTC)
MINUTE_NS = 60_000_000_000


def _bars(n: int) -> BarArrays:
    prices = [np.arange(n, dtype=np.float64) + k for k in range(5)]
    opened_at = np.arange(n, dtype=np.int64) * MINUTE_NS + to_epoch_ns(T0)
    return BarArrays("BTCUSDT", "1m", opened_at, *prices)


def test_to_epoch_ns_honours_the_offset_and_refuses_naive() -> None:
    assert to_epoch_ns(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC)) == 1_000_005_000
    paris = timezone(timedelta(hours=1))
    assert to_epoch_ns(datetime(2024, 3, 1, 1, tzinfo=paris)) == to_epoch_ns(T0)
    assert to_epoch_ns(datetime(1969, 12, 31, 23, 59, tzinfo=UTC)) == -MINUTE_NS
    with pytest.raises(ValueError, match="naive"):
        to_epoch_ns(datetime(2024, 3, 1))


def test_from_epoch_ns_inverts_to_epoch_ns_to_the_microsecond() -> None:
    for moment in (T0, datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)):
        assert from_epoch_ns(to_epoch_ns(moment)) == moment
    # Below a microsecond rounds down, before the epoch too (floor, never towards zero).
    assert from_epoch_ns(1_999) == datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    assert from_epoch_ns(-1) == datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)


def test_between_is_start_inclusive_end_exclusive() -> None:
    bars = _bars(10)
    window = bars.between(T0 + timedelta(minutes=2), T0 + timedelta(minutes=5))
    assert window.opened_at.tolist() == bars.opened_at[2:5].tolist()
    assert window.close.tolist() == [5.0, 6.0, 7.0]
    assert len(bars.between(end=T0)) == 0
    assert len(bars.between(start=T0 + timedelta(minutes=9, seconds=1))) == 0
    assert len(bars.between(T0 + timedelta(minutes=5), T0 + timedelta(minutes=2))) == 0


def test_equals_compares_every_column_bit_for_bit() -> None:
    bars = _bars(4)
    assert bars.equals(_bars(4))
    changed = bars.close.copy()
    changed[3] = np.nextafter(changed[3], np.inf)
    other = BarArrays(
        "BTCUSDT", "1m", bars.opened_at, bars.open, bars.high, bars.low, changed, bars.volume
    )
    assert not bars.equals(other)
    assert not bars.equals(_bars(3))


def test_opened_at_datetime64_is_a_utc_view() -> None:
    bars = _bars(2)
    assert bars.opened_at_datetime64[0] == np.datetime64("2024-03-01T00:00:00", "ns")
    assert "2 bars" in repr(bars)
