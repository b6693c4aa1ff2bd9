"""What validation learns about stored bars: none, within a limit, or over it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.velocitas.db.bar_rows import T0, insert_bars, random_rows
from velocitas.db.coverage import Coverage, stored_bar_coverage
from velocitas.db.engine import session_scope


@pytest.mark.parametrize(
    ("minutes", "limit", "expected"),
    [
        (10, 100, Coverage.WITHIN),  # short range: one probe
        (10, 10, Coverage.WITHIN),  # long enough to need the count, exactly at the limit
        (10, 9, Coverage.OVER),
        (600, 11, Coverage.WITHIN),  # long range, 10 bars stored in it
        (600, 9, Coverage.OVER),
    ],
)
def test_stored_bar_coverage_against_a_limit(
    database_url: str, minutes: int, limit: int, expected: Coverage
) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(10))
    with session_scope() as session:
        got = stored_bar_coverage(
            session, "BTCUSDT", "1m", T0, T0 + timedelta(minutes=minutes), limit=limit
        )
    assert got is expected


@pytest.mark.parametrize("limit", [1, 1000])  # the count and the probe
def test_stored_bar_coverage_none_outside_the_stored_range(database_url: str, limit: int) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(10))
    later = T0 + timedelta(minutes=10)  # end is exclusive, so the first bar is outside too
    with session_scope() as session:
        assert (
            stored_bar_coverage(
                session, "BTCUSDT", "1m", later, later + timedelta(hours=1), limit=limit
            )
            is Coverage.NONE
        )
        assert (
            stored_bar_coverage(session, "BTCUSDT", "1m", T0 - timedelta(hours=1), T0, limit=limit)
            is Coverage.NONE
        )
        assert (
            stored_bar_coverage(session, "ETHUSDT", "1m", T0, later, limit=limit) is Coverage.NONE
        )


def test_stored_bar_coverage_counts_the_bars_a_derived_timeframe_reads(database_url: str) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(10))
    end = T0 + timedelta(minutes=10)
    with session_scope() as session:
        # 5m is built from the stored 1m bars: ten of them are read, not two.
        assert stored_bar_coverage(session, "BTCUSDT", "5m", T0, end, limit=9) is Coverage.OVER
        assert stored_bar_coverage(session, "BTCUSDT", "5m", T0, end, limit=10) is Coverage.WITHIN
