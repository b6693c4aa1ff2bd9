"""The in-memory bar cache: reused while no bar changed, re-read after any write to `bar`."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from velocitas.db.bar_cache import BarCache, bar_data_version
from velocitas.db.bars import load_bars_with_snapshot
from velocitas.db.engine import connect
from velocitas.domain.timeframe import Timeframe
from velocitas.ingest import import_table
from velocitas.ingest.catalog import delete_series
from velocitas.synth import synth_bars

START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 1, 3, tzinfo=UTC)
BIG = 1 << 30


def _store(symbol: str = "CACHE", hours: int = 72) -> None:
    import_table(synth_bars(hours, Timeframe.H1, seed=3), symbol=symbol, timeframe="1h")


def _execute(sql: str) -> None:
    with connect() as conn:
        conn.execute(sql)


def test_a_second_load_is_served_from_memory_and_equals_a_fresh_read(database_url: str) -> None:
    _store()
    cache = BarCache(BIG)
    first, first_digest = cache.load("CACHE", "1h", START, END)
    again, again_digest = cache.load("CACHE", "1h", START, END)
    fresh, fresh_digest = load_bars_with_snapshot("CACHE", "1h", START, END)
    assert (cache.misses, cache.hits) == (1, 1)
    assert again is first
    assert again_digest == first_digest == fresh_digest
    np.testing.assert_array_equal(again.close, fresh.close)
    np.testing.assert_array_equal(again.opened_at, fresh.opened_at)


@pytest.mark.parametrize(
    "write",
    [
        "UPDATE bar SET close = close * 2 WHERE symbol = 'CACHE'",
        "DELETE FROM bar WHERE symbol = 'CACHE' AND opened_at >= '2024-01-02'",
        "TRUNCATE bar",
    ],
)
def test_any_write_to_bar_makes_the_next_load_read_again(database_url: str, write: str) -> None:
    _store()
    cache = BarCache(BIG)
    _, before_digest = cache.load("CACHE", "1h", START, END)
    version = bar_data_version()
    _execute(write)
    assert bar_data_version() > version
    after, after_digest = cache.load("CACHE", "1h", START, END)
    fresh, fresh_digest = load_bars_with_snapshot("CACHE", "1h", START, END)
    assert (cache.misses, cache.hits) == (2, 0)
    assert after_digest == fresh_digest != before_digest
    np.testing.assert_array_equal(after.close, fresh.close)


def test_an_import_through_the_platform_invalidates_too(database_url: str) -> None:
    _store(hours=24)  # only the first day of the range
    cache = BarCache(BIG)
    before, _ = cache.load("CACHE", "1h", START, END)
    _store(hours=48)  # the second day arrives
    after, _ = cache.load("CACHE", "1h", START, END)
    assert (len(before), len(after)) == (24, 48)


def test_cached_arrays_are_read_only(database_url: str) -> None:
    _store()
    bars, _ = BarCache(BIG).load("CACHE", "1h", START, END)
    with pytest.raises(ValueError, match="read-only"):
        bars.close[0] = 1.0


def test_least_recently_used_entries_go_first_when_over_the_limit(database_url: str) -> None:
    _store("A")
    _store("B")
    one_series = 48 * 6 * 8  # 48 bars, six 8-byte columns
    cache = BarCache(limit_bytes=one_series + one_series // 2)
    cache.load("A", "1h", START, END)
    cache.load("B", "1h", START, END)  # evicts A
    cache.load("B", "1h", START, END)
    cache.load("A", "1h", START, END)
    assert (cache.misses, cache.hits) == (3, 1)


def test_a_zero_limit_turns_the_cache_off(database_url: str) -> None:
    _store()
    cache = BarCache(0)
    first, _ = cache.load("CACHE", "1h", START, END)
    again, _ = cache.load("CACHE", "1h", START, END)
    assert again is not first
    assert first.close.flags.writeable


def test_deleting_a_series_through_the_platform_invalidates_too(database_url: str) -> None:
    _store()
    cache = BarCache(BIG)
    before, _ = cache.load("CACHE", "1h", START, END)
    delete_series("CACHE", Timeframe.H1)
    after, _ = cache.load("CACHE", "1h", START, END)
    assert (len(before), len(after)) == (48, 0)
