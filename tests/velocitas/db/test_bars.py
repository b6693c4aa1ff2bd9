"""Reading bars: values, ranges, resampled timeframes, exact Decimals, snapshot hashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import psycopg
import pytest

from tests.velocitas.db.bar_rows import T0, Row, insert_bars, random_rows
from velocitas.db import bars
from velocitas.domain.bars import to_epoch_ns
from velocitas.domain.resample import resample
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest
from velocitas.settings import get_settings

MINUTE = timedelta(minutes=1)


def _expected_columns(rows: list[Row]) -> tuple[np.ndarray, np.ndarray]:
    opened_at = np.array([to_epoch_ns(r[0]) for r in rows], dtype=np.int64)
    values = np.array([[float(v) for v in r[1:]] for r in rows], dtype=np.float64).T
    return opened_at, values


def test_load_bars_values_equal_the_float64_of_the_stored_decimals(database_url: str) -> None:
    rows = random_rows(300)
    # Values whose exact decimal needs more than 15 significant digits take the slow exact path.
    rows.append(
        (
            T0 + 300 * MINUTE,
            Decimal("123456789.12345678"),
            Decimal("99999999999999999999.99999999"),
            Decimal("0.00000001"),
            Decimal("-1.5"),
            Decimal("1234567890123456789012345678901234567890"),
        )
    )
    insert_bars(database_url, "BTCUSDT", "1m", rows)

    loaded = bars.load_bars("BTCUSDT", "1m")

    opened_at, values = _expected_columns(rows)
    assert loaded.symbol == "BTCUSDT"
    assert loaded.timeframe == Timeframe.M1
    assert np.array_equal(loaded.opened_at, opened_at)
    for i, name in enumerate(("open", "high", "low", "close", "volume")):
        assert np.array_equal(getattr(loaded, name), values[i]), name


def test_load_bars_unknown_symbol_gives_empty_arrays(database_url: str) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(3))
    loaded = bars.load_bars("NOPE", "1m")
    assert len(loaded) == 0
    assert loaded.opened_at.dtype == np.int64
    assert loaded.close.dtype == np.float64


def test_load_bars_start_is_inclusive_and_end_exclusive(database_url: str) -> None:
    rows = random_rows(10)
    insert_bars(database_url, "BTCUSDT", "1m", rows)

    loaded = bars.load_bars("BTCUSDT", "1m", T0 + 2 * MINUTE, T0 + 5 * MINUTE)

    assert loaded.opened_at.tolist() == [to_epoch_ns(r[0]) for r in rows[2:5]]
    assert len(bars.load_bars("BTCUSDT", "1m", start=T0 + 8 * MINUTE)) == 2
    assert len(bars.load_bars("BTCUSDT", "1m", end=T0 + 1 * MINUTE)) == 1


def test_load_bars_range_without_bars_is_empty(database_url: str) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(10))
    assert len(bars.load_bars("BTCUSDT", "1m", T0 + 3 * MINUTE, T0 + 3 * MINUTE)) == 0
    assert len(bars.load_bars("BTCUSDT", "1m", T0 - 10 * MINUTE, T0)) == 0


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (T0 + MINUTE, T0, "end"),
        (datetime(2024, 3, 1), None, "start"),  # naive: which timezone? refuse
        (None, datetime(2024, 3, 1), "end"),
    ],
)
def test_load_bars_bad_range_names_the_field(
    database_url: str, start: datetime | None, end: datetime | None, field: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        bars.load_bars("BTCUSDT", "1m", start, end)
    assert caught.value.field == field


def test_load_bars_unknown_timeframe_is_invalid(database_url: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        bars.load_bars("BTCUSDT", "7m")
    assert caught.value.field == "timeframe"


def test_load_bars_two_connection_read_equals_one_connection_read(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = random_rows(501)
    insert_bars(database_url, "BTCUSDT", "1m", rows)
    single = bars.load_bars("BTCUSDT", "1m")

    monkeypatch.setattr(bars, "PARALLEL_MIN_BARS", 10)
    halves = bars.load_bars("BTCUSDT", "1m")
    ranged = bars.load_bars("BTCUSDT", "1m", T0 + 7 * MINUTE, T0 + 400 * MINUTE)

    assert len(single) == 501
    assert halves.equals(single)
    assert ranged.equals(single.slice(7, 400))


def test_load_bars_reads_on_one_connection_when_bar_read_connections_is_1(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(120))
    monkeypatch.setattr(bars, "PARALLEL_MIN_BARS", 10)
    halves, halves_hash = bars.load_bars_with_snapshot("BTCUSDT", "1m")

    def second_connection(*args: object) -> None:
        raise AssertionError("a second connection was opened")

    monkeypatch.setenv("BAR_READ_CONNECTIONS", "1")
    get_settings.cache_clear()
    monkeypatch.setattr(bars, "_copy_columns_in", second_connection)
    single, single_hash = bars.load_bars_with_snapshot("BTCUSDT", "1m")

    assert len(single) == 120
    assert single.equals(halves)
    assert single_hash == halves_hash


def test_load_bars_derives_a_missing_timeframe_from_the_largest_stored_divisor(
    database_url: str,
) -> None:
    minute_rows = random_rows(240, seed=1)
    half_hour_rows = random_rows(8, step=timedelta(minutes=30), seed=2)
    insert_bars(database_url, "BTCUSDT", "1m", minute_rows)
    insert_bars(database_url, "BTCUSDT", "30m", half_hour_rows)
    insert_bars(database_url, "BTCUSDT", "15m", random_rows(16, step=timedelta(minutes=15)))

    hourly = bars.load_bars("BTCUSDT", "1h")
    with psycopg.connect(database_url) as conn:
        source = bars.resolve_source(conn, "BTCUSDT", Timeframe.H1)
        stored = bars.resolve_source(conn, "BTCUSDT", Timeframe.M1)
        underivable = bars.resolve_source(conn, "BTCUSDT", Timeframe.M5)

    assert (source, stored, underivable) == (Timeframe.M30, Timeframe.M1, Timeframe.M1)
    assert hourly.equals(resample(bars.load_bars("BTCUSDT", "30m"), "1h"))
    assert len(hourly) == 4


def test_load_bars_derived_range_keeps_bars_that_open_inside_it(database_url: str) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(180))
    whole = bars.load_bars("BTCUSDT", "1h")

    # 00:30 → 02:10 holds the 01:00 and 02:00 hours (each built from all its minutes).
    part = bars.load_bars("BTCUSDT", "1h", T0 + 30 * MINUTE, T0 + 130 * MINUTE)

    assert part.equals(whole.slice(1, 3))


def test_load_bars_exact_round_trips_8_decimal_prices(database_url: str) -> None:
    rows = random_rows(50)
    rows.append(
        (T0 + 50 * MINUTE, *(Decimal(v) for v in ("0.00000001", "0.10000000", "0E-8", "5", "1.5")))
    )
    insert_bars(database_url, "ETHUSDT", "1m", rows)

    exact = bars.load_bars_exact("ETHUSDT", "1m")

    assert [(b.opened_at, b.open, b.high, b.low, b.close, b.volume) for b in exact] == rows
    assert all(b.opened_at.tzinfo is UTC for b in exact)
    assert str(exact[-1].high) == "0.10000000"  # scale kept as stored


def test_load_bars_exact_resampled_volume_is_the_exact_sum(database_url: str) -> None:
    rows = random_rows(10, seed=3)
    insert_bars(database_url, "ETHUSDT", "1m", rows)

    (five_a, five_b) = bars.load_bars_exact("ETHUSDT", "5m")

    assert five_a.opened_at == T0
    assert five_a.open == rows[0][1]
    assert five_a.high == max(r[2] for r in rows[:5])
    assert five_a.low == min(r[3] for r in rows[:5])
    assert five_a.close == rows[4][4]
    assert five_a.volume == sum(r[5] for r in rows[:5])
    assert five_b.volume == sum(r[5] for r in rows[5:])


def test_snapshot_hash_is_stable_and_changes_when_a_value_changes(database_url: str) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(20))
    first = bars.snapshot_hash("BTCUSDT", "1m")
    early = bars.snapshot_hash("BTCUSDT", "1m", T0, T0 + 7 * MINUTE)
    assert bars.snapshot_hash("BTCUSDT", "1m") == first
    assert len(first) == 64
    assert bars.snapshot_hash("BTCUSDT", "1m", T0, T0 + 10 * MINUTE) != first

    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE bar SET close = close + 0.00000001 WHERE opened_at = %s", (T0 + 7 * MINUTE,)
        )
    changed = bars.snapshot_hash("BTCUSDT", "1m")

    assert changed != first
    # A range that does not hold the changed bar keeps its fingerprint.
    assert bars.snapshot_hash("BTCUSDT", "1m", T0, T0 + 7 * MINUTE) == early


def test_snapshot_hash_ignores_trailing_zeros_of_equal_values(database_url: str) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(5))
    before = bars.snapshot_hash("BTCUSDT", "1m")
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE bar SET volume = (volume::text || '000')::numeric")
    assert bars.snapshot_hash("BTCUSDT", "1m") == before


def test_snapshot_hash_names_symbol_and_source_timeframe(database_url: str) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(120))
    assert bars.snapshot_hash("NOPE", "1m") != bars.snapshot_hash("NOPE2", "1m")
    assert bars.snapshot_hash("BTCUSDT", "1h") != bars.snapshot_hash("BTCUSDT", "1m")
    assert bars.snapshot_hash("BTCUSDT", "1h") == bars.snapshot_hash("BTCUSDT", "1h")


def test_stored_series_lists_every_symbol_and_timeframe(database_url: str) -> None:
    insert_bars(database_url, "ETHUSDT", "1h", random_rows(3, step=timedelta(hours=1)))
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(3))
    insert_bars(database_url, "BTCUSDT", "1d", random_rows(2, step=timedelta(days=1)))
    with psycopg.connect(database_url) as conn:
        series = bars.stored_series(conn)
    assert [(s.symbol, s.timeframe) for s in series] == [
        ("BTCUSDT", "1d"),
        ("BTCUSDT", "1m"),
        ("ETHUSDT", "1h"),
    ]


def test_read_candles_newest_limit_is_ascending(database_url: str) -> None:
    rows = random_rows(30)
    insert_bars(database_url, "BTCUSDT", "1m", rows)
    with psycopg.connect(database_url) as conn:
        newest = bars.read_candles(conn, "BTCUSDT", "1m", limit=4)
        before = bars.read_candles(conn, "BTCUSDT", "1m", end=T0 + 10 * MINUTE, limit=3)
        from_start = bars.read_candles(conn, "BTCUSDT", "1m", start=T0 + MINUTE, limit=2)
    assert [b.opened_at for b in newest] == [r[0] for r in rows[-4:]]
    assert [b.opened_at for b in before] == [r[0] for r in rows[7:10]]
    assert [b.opened_at for b in from_start] == [r[0] for r in rows[1:3]]


def test_read_candles_newest_limit_of_a_derived_timeframe(database_url: str) -> None:
    rows = random_rows(125)  # 00:00 … 02:04: the 02:00 hour is partial
    del rows[60:120]  # the 01:00 hour is missing entirely
    insert_bars(database_url, "BTCUSDT", "1m", rows)
    with psycopg.connect(database_url) as conn:
        newest = bars.read_candles(conn, "BTCUSDT", "1h", limit=2)
        one = bars.read_candles(conn, "BTCUSDT", "1h", limit=1)
    assert [b.opened_at for b in newest] == [T0, T0 + timedelta(hours=2)]
    assert [b.opened_at for b in one] == [T0 + timedelta(hours=2)]
    assert one[0].close == rows[-1][4]


def test_load_bars_reads_bars_before_1970_and_far_future(database_url: str) -> None:
    old = datetime(1969, 12, 31, 23, 59, tzinfo=UTC)
    rows = [*random_rows(2, start=old), *random_rows(1, start=datetime(2200, 1, 1, tzinfo=UTC))]
    insert_bars(database_url, "OLD", "1m", rows)
    loaded = bars.load_bars("OLD", "1m")
    assert loaded.opened_at.tolist() == [to_epoch_ns(r[0]) for r in rows]


def test_load_bars_symbol_is_quoted_in_the_copy_statement(database_url: str) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(3))
    assert len(bars.load_bars("X'; DROP TABLE bar; --", "1m")) == 0
    assert len(bars.load_bars("BTCUSDT", "1m")) == 3
    assert bars.snapshot_hash("X'); DROP TABLE bar; --", "1m")
    assert len(bars.load_bars("BTCUSDT", "1m")) == 3


def test_load_bars_with_snapshot_hashes_what_it_read_in_both_halves(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert_bars(database_url, "BTCUSDT", "1m", random_rows(40))
    single, single_hash = bars.load_bars_with_snapshot("BTCUSDT", "1m")
    monkeypatch.setattr(bars, "PARALLEL_MIN_BARS", 10)  # the two-connection read
    halves, halves_hash = bars.load_bars_with_snapshot("BTCUSDT", "1m")
    assert single_hash == halves_hash == bars.snapshot_hash("BTCUSDT", "1m")
    assert np.array_equal(single.close, halves.close)
    assert len(halves.close) == 40
