"""import_bars on the real PostgreSQL: exact storage, idempotency, updates, every rule."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.velocitas.ingest.readback import stored_bars
from velocitas.errors import ConfigurationError, InvalidFile, InvalidRequest
from velocitas.ingest import import_bars, loader

WriteCsv = Callable[..., Path]
ROW_0 = "2024-01-01T00:00:00Z,42000.12345678,42010.00000001,41990.5,42005.87654321,1.23456789"
ROW_1 = "2024-01-01T00:01:00Z,42005.87654321,42006,42000.00000001,42001.1,0"


def test_import_bars_round_trips_8_decimal_prices_exactly(
    database_url: str, write_csv: WriteCsv
) -> None:
    summary = import_bars(write_csv(ROW_0, ROW_1), symbol="BTCUSD", timeframe="1m")
    assert (summary.read, summary.inserted, summary.updated, summary.rejected) == (2, 2, 0, 0)
    assert stored_bars(database_url) == [
        (
            "2024-01-01T00:00:00Z",
            Decimal("42000.12345678"),
            Decimal("42010.00000001"),
            Decimal("41990.5"),
            Decimal("42005.87654321"),
            Decimal("1.23456789"),
        ),
        (
            "2024-01-01T00:01:00Z",
            Decimal("42005.87654321"),
            Decimal("42006"),
            Decimal("42000.00000001"),
            Decimal("42001.1"),
            Decimal("0"),
        ),
    ]


def test_import_bars_same_file_twice_changes_nothing(
    database_url: str, write_csv: WriteCsv
) -> None:
    path = write_csv(ROW_0, ROW_1)
    import_bars(path, symbol="BTCUSD", timeframe="1m")
    with psycopg.connect(database_url) as conn:
        before = conn.execute("SELECT ctid, xmin, xmax FROM bar ORDER BY opened_at").fetchall()
    again = import_bars(path, symbol="BTCUSD", timeframe="1m")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    with psycopg.connect(database_url) as conn:
        after = conn.execute("SELECT ctid, xmin, xmax FROM bar ORDER BY opened_at").fetchall()
    assert after == before  # no row was rewritten, or even locked


def test_import_bars_newer_file_updates_overlapping_rows(
    database_url: str, write_csv: WriteCsv
) -> None:
    import_bars(write_csv(ROW_0, ROW_1, name="old.csv"), symbol="BTCUSD", timeframe="1m")
    newer = write_csv(
        ROW_0,
        "2024-01-01T00:01:00Z,42005.87654321,42007,42000.00000001,42006.5,3.5",
        "2024-01-01T00:02:00Z,42006.5,42008,42001,42002,1",
        name="new.csv",
    )
    summary = import_bars(newer, symbol="BTCUSD", timeframe="1m")
    assert (summary.inserted, summary.updated, summary.unchanged) == (1, 1, 1)
    stored = stored_bars(database_url)
    assert len(stored) == 3
    assert stored[1][2:] == (
        Decimal("42007"),
        Decimal("42000.00000001"),
        Decimal("42006.5"),
        Decimal("3.5"),
    )


def test_import_bars_compares_near_equal_prices_exactly(
    database_url: str, write_csv: WriteCsv
) -> None:
    # Two 8-decimal prices one unit apart that float64 cannot tell apart.
    high, body = "99999999.99999998", "99999999.99999999"
    assert float(high) == float(body)
    bad = write_csv(f"2024-01-01T00:00:00Z,{body},{high},1,{body},1")
    with pytest.raises(InvalidFile) as caught:
        import_bars(bad, symbol="BTCUSD", timeframe="1m")
    assert caught.value.problems[0].column == "high"
    good = write_csv(f"2024-01-01T00:00:00Z,{high},{body},1,{high},1", name="good.csv")
    assert import_bars(good, symbol="BTCUSD", timeframe="1m").inserted == 1
    assert stored_bars(database_url)[0][2] == Decimal(body)


@pytest.mark.parametrize(
    ("line", "column", "reason"),
    [
        ("2024-01-01T00:00:00Z,abc,2,1,1.5,1", "open", "not a finite decimal number: 'abc'"),
        ("2024-01-01T00:00:00Z,1,2,1,NaN,1", "close", "not a finite decimal number: 'NaN'"),
        ("2024-01-01T00:00:00Z,1,inf,1,1,1", "high", "not a finite decimal number: 'inf'"),
        ("2024-01-01T00:00:00Z,1,2,1,1.5,", "volume", "missing value"),
        ("2024-01-01T00:00:00Z,0,2,0,1.5,1", "open", "price must be > 0, got 0"),
        ("2024-01-01T00:00:00Z,1,2,-1,1.5,1", "low", "price must be > 0, got -1"),
        (
            "2024-01-01T00:00:00Z,1,2,1,1.5,-0.00000001",
            "volume",
            "volume must be >= 0, got -0.00000001",
        ),
        ("2024-01-01T00:00:00Z,1,1.4,1,1.5,1", "high", "high 1.4 is below max(open 1, close 1.5)"),
        ("2024-01-01T00:00:00Z,1,2,1.2,1.5,1", "low", "low 1.2 is above min(open 1, close 1.5)"),
        (
            "2024-01-01T00:00:30Z,1,2,1,1.5,1",
            "opened_at",
            "2024-01-01T00:00:30Z is not on the 1m grid",
        ),
        ("yesterday,1,2,1,1.5,1", "opened_at", "not a time: 'yesterday'"),
        (",1,2,1,1.5,1", "opened_at", "missing time"),
        ("2024-01-01 00:00:00,1,2,1,1.5,1", "opened_at", "has no time zone"),
    ],
)
def test_import_bars_rejects_bad_value_naming_row_column_reason(
    database_url: str, write_csv: WriteCsv, line: str, column: str, reason: str
) -> None:
    path = write_csv("2024-01-01T00:01:00Z,1,2,1,1.5,1", line)
    with pytest.raises(InvalidFile) as caught:
        import_bars(path, symbol="BTCUSD", timeframe="1m")
    assert caught.value.total == 1  # one bad row (it may break more than one rule)
    [problem] = [p for p in caught.value.problems if p.column == column]
    assert problem.row == 2
    assert reason in problem.reason
    assert stored_bars(database_url) == []  # the good first row was not stored either


def test_import_bars_rejects_duplicate_time_and_stores_nothing(
    database_url: str, write_csv: WriteCsv
) -> None:
    path = write_csv(ROW_0, ROW_1, ROW_0)
    with pytest.raises(InvalidFile) as caught:
        import_bars(path, symbol="BTCUSD", timeframe="1m")
    [problem] = caught.value.problems
    assert (problem.row, problem.column) == (3, "opened_at")
    assert "duplicate time 2024-01-01T00:00:00Z (first at row 1)" in problem.reason
    assert stored_bars(database_url) == []


def test_import_bars_lists_first_20_problems_and_counts_all(
    database_url: str, write_csv: WriteCsv
) -> None:
    lines = [f"2024-01-01T00:{m:02d}:00Z,1,2,1,{'x' if m % 2 else '1.5'},1" for m in range(60)]
    with pytest.raises(InvalidFile) as caught:
        import_bars(write_csv(*lines), symbol="BTCUSD", timeframe="1m")
    assert caught.value.total == 30
    assert [p.row for p in caught.value.problems] == list(range(2, 42, 2))
    assert "30 invalid row(s)" in str(caught.value)


def test_import_bars_skip_invalid_stores_good_rows_and_reports_bad(
    database_url: str, write_csv: WriteCsv
) -> None:
    path = write_csv(ROW_0, "2024-01-01T00:01:00Z,1,0.5,1,1,1", "2024-01-01T00:02:00Z,1,2,1,1,1")
    summary = import_bars(path, symbol="BTCUSD", timeframe="1m", skip_invalid=True)
    assert (summary.read, summary.inserted, summary.rejected) == (3, 2, 1)
    assert [(p.row, p.column) for p in summary.problems] == [(2, "high")]
    assert [row[0] for row in stored_bars(database_url)] == [
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:02:00Z",
    ]
    assert (summary.missing_bars, summary.gap_count) == (1, 1)


def test_import_bars_naive_times_accepted_with_tz(database_url: str, write_csv: WriteCsv) -> None:
    # 01:00 in Berlin in winter is 00:00 UTC.
    path = write_csv("2024-01-01 01:00:00,1,2,1,1.5,1", "2024-01-01T02:01:00,1,2,1,1.5,1")
    summary = import_bars(path, symbol="BTCUSD", timeframe="1m", tz="Europe/Berlin")
    assert summary.inserted == 2
    assert [row[0] for row in stored_bars(database_url)] == [
        "2024-01-01T00:00:00Z",
        "2024-01-01T01:01:00Z",
    ]


def test_import_bars_unknown_tz_is_invalid_request(database_url: str, write_csv: WriteCsv) -> None:
    with pytest.raises(InvalidRequest) as caught:
        import_bars(write_csv(ROW_0), symbol="BTCUSD", timeframe="1m", tz="Mars/Olympus")
    assert caught.value.field == "tz"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("1704067200", "1704067260"),  # seconds
        ("1704067200000", "1704067260000"),  # milliseconds
        ("1704067200000000", "1704067260000000"),  # microseconds
    ],
)
def test_import_bars_reads_epoch_times_by_magnitude(
    database_url: str, write_csv: WriteCsv, first: str, second: str
) -> None:
    path = write_csv(
        f"{first},1,2,1,1.5,1",
        f"{second},1,2,1,1.5,1",
        header="Timestamp,Open,High,Low,Close,Volume",
    )
    import_bars(path, symbol="BTCUSD", timeframe="1m")
    assert [row[0] for row in stored_bars(database_url)] == [
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:01:00Z",
    ]


def test_import_bars_accepts_column_names_in_any_case_and_ignores_extras(
    database_url: str, write_csv: WriteCsv
) -> None:
    path = write_csv(
        "x,2024-01-01T00:00:00+01:00,1,2,1,1.5,7", header="Note,DateTime,OPEN,High,low,Close,VOLUME"
    )
    import_bars(path, symbol="BTCUSD", timeframe="1m")
    assert stored_bars(database_url)[0][0] == "2023-12-31T23:00:00Z"


def test_import_bars_missing_column_is_invalid_request(
    database_url: str, write_csv: WriteCsv
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        import_bars(
            write_csv("2024-01-01T00:00:00Z,1,2,1", header="time,open,high,low"),
            symbol="BTCUSD",
            timeframe="1m",
        )
    assert caught.value.field == "close"


def test_import_bars_reads_parquet_with_typed_columns(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    table = pa.table(
        {
            "time": pa.array([1704067200, 1704070800], pa.timestamp("s", tz="UTC")),
            "open": pa.array([Decimal("0.12345678"), Decimal("0.2")], pa.decimal128(18, 8)),
            "high": pa.array([0.5, 0.25], pa.float64()),
            "low": pa.array([0.1, 0.2], pa.float64()),
            "close": pa.array(["0.2", "0.2"]),
            "volume": pa.array([10, 0], pa.int64()),
        }
    )
    pq.write_table(table, path)
    summary = import_bars(path, symbol="BTCUSD", timeframe="1h")
    assert summary.inserted == 2
    first = stored_bars(database_url)[0]
    assert first == (
        "2024-01-01T00:00:00Z",
        Decimal("0.12345678"),
        Decimal("0.5"),
        Decimal("0.1"),
        Decimal("0.2"),
        Decimal("10"),
    )


def test_import_bars_summary_reports_span_and_gaps(database_url: str, write_csv: WriteCsv) -> None:
    lines = [f"2024-01-01T00:{m:02d}:00Z,1,2,1,1.5,1" for m in (3, 0, 1, 7, 9)]
    summary = import_bars(write_csv(*lines), symbol="BTCUSD", timeframe="1m")
    assert (summary.first_opened_at, summary.last_opened_at) == (
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:09:00Z",
    )
    assert (summary.missing_bars, summary.gap_count) == (5, 3)
    assert [(g.first_missing, g.last_missing, g.missing) for g in summary.gaps] == [
        ("2024-01-01T00:02:00Z", "2024-01-01T00:02:00Z", 1),
        ("2024-01-01T00:04:00Z", "2024-01-01T00:06:00Z", 3),
        ("2024-01-01T00:08:00Z", "2024-01-01T00:08:00Z", 1),
    ]


def test_import_bars_bytes_source_is_csv(database_url: str) -> None:
    body = f"time,open,high,low,close,volume\n{ROW_0}\n".encode()
    assert import_bars(body, symbol="ETHUSD", timeframe="1m").inserted == 1
    assert len(stored_bars(database_url, "ETHUSD")) == 1


def test_import_bars_skip_invalid_over_stored_rows_updates_only_good_ones(
    database_url: str, write_csv: WriteCsv
) -> None:
    import_bars(write_csv(ROW_0, ROW_1, name="old.csv"), symbol="BTCUSD", timeframe="1m")
    newer = write_csv(
        "2024-01-01T00:00:00Z,42000.12345678,42010.00000001,41990.5,42005.87654321,9",
        "2024-01-01T00:01:00Z,42005.87654321,1,42000.00000001,42001.1,5",  # high below open
        "2024-01-01T00:01:00Z,42005.87654321,42006,42000.00000001,42001.1,7",  # duplicate
        name="new.csv",
    )
    summary = import_bars(newer, symbol="BTCUSD", timeframe="1m", skip_invalid=True)
    assert (summary.inserted, summary.updated, summary.unchanged, summary.rejected) == (0, 1, 0, 2)
    assert [(p.row, p.column) for p in summary.problems] == [(2, "high"), (3, "opened_at")]
    assert [row[5] for row in stored_bars(database_url)] == [Decimal("9"), Decimal("0")]


def test_import_bars_nonexistent_local_time_is_rejected(
    database_url: str, write_csv: WriteCsv
) -> None:
    # 2024-03-31 02:30 never happened in Berlin: clocks jumped from 02:00 to 03:00.
    path = write_csv("2024-03-31 01:00:00,1,2,1,1.5,1", "2024-03-31 02:30:00,1,2,1,1.5,1")
    with pytest.raises(InvalidFile) as caught:
        import_bars(path, symbol="BTCUSD", timeframe="1m", tz="Europe/Berlin")
    [problem] = caught.value.problems
    assert problem.row == 2
    assert "does not exist in Europe/Berlin" in problem.reason


def test_import_bars_unmigrated_database_is_configuration_error(
    database_url: str, write_csv: WriteCsv
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE bar")
    with pytest.raises(ConfigurationError) as caught:
        import_bars(write_csv(ROW_0), symbol="BTCUSD", timeframe="1m")
    assert "velocitas db upgrade" in str(caught.value)


def test_import_bars_value_beyond_numeric_range_is_invalid_request(
    database_url: str, write_csv: WriteCsv
) -> None:
    huge = "9" * 140_000
    with pytest.raises(InvalidRequest) as caught:
        import_bars(write_csv(f"2024-01-01T00:00:00Z,1,{huge},1,1,1"), symbol="X", timeframe="1m")
    assert caught.value.field == "file"


def test_import_bars_ragged_rows_are_refused_by_row_number(database_url: str) -> None:
    body = (
        b"time,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,1,1.5,1\n2024-01-01,1,2\n"
        b"2024-01-01T00:02:00Z,1,2,1,1.5,1,9\n"
    )
    with pytest.raises(InvalidFile) as caught:
        import_bars(body, symbol="BTCUSD", timeframe="1m", skip_invalid=True)
    assert caught.value.total == 2
    assert [(p.row, p.reason) for p in caught.value.problems] == [
        (2, "expected 6 fields, got 3: '2024-01-01,1,2'"),
        (3, "expected 6 fields, got 7: '2024-01-01T00:02:00Z,1,2,1,1.5,1,9'"),
    ]
    assert stored_bars(database_url) == []


def test_import_bars_header_only_file_stores_nothing_and_says_so(database_url: str) -> None:
    summary = import_bars(b"time,open,high,low,close,volume\n", symbol="BTCUSD", timeframe="1m")
    assert (summary.read, summary.inserted, summary.first_opened_at) == (0, 0, None)


def test_import_bars_reports_progress_through_every_phase(
    database_url: str, write_csv: WriteCsv
) -> None:
    calls: list[tuple[str, int, int]] = []
    import_bars(
        write_csv(ROW_0, ROW_1),
        symbol="BTCUSD",
        timeframe="1m",
        progress=lambda phase, done, total: calls.append((phase, done, total)),
    )
    assert [phase for phase, _, _ in calls] == [
        "read", "read", "check", "check", "load", "merge", "merge",
    ]  # fmt: skip
    assert ("load", 2, 2) in calls


def test_import_bars_concurrent_overlapping_imports_both_land(
    database_url: str, write_csv: WriteCsv
) -> None:
    def minutes(first: int, last: int, volume: str) -> list[str]:
        return [
            f"2024-01-0{1 + m // 1440}T{m // 60 % 24:02d}:{m % 60:02d}:00Z,1,2,1,1.5,{volume}"
            for m in range(first, last)
        ]

    early = write_csv(*minutes(0, 3000, "1"), name="early.csv")
    late = write_csv(*minutes(1500, 4500, "2"), name="late.csv")
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(lambda path: import_bars(path, symbol="BTCUSD", timeframe="1m"), [early, late])
        )
    assert sum(r.inserted for r in results) == 4500
    stored = stored_bars(database_url)
    assert len(stored) == 4500
    assert {row[5] for row in stored[:1500]} == {Decimal("1")}
    assert {row[5] for row in stored[3000:]} == {Decimal("2")}


def test_merge_over_stored_bars_plans_hash_joins_without_statistics(
    database_url: str, write_csv: WriteCsv
) -> None:
    lines = [f"2024-01-0{1 + m // 1440}T{m // 60 % 24:02d}:{m % 60:02d}:00Z,1,2,1,1.5,1"
             for m in range(2000)]  # fmt: skip
    import_bars(write_csv(*lines), symbol="BTCUSD", timeframe="1m")
    params = {"symbol": "BTCUSD", "timeframe": "1m", "first": 1704067200, "last": 1704187140}
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute(
            "CREATE TEMPORARY TABLE bar_staging ON COMMIT DROP AS SELECT 1 AS row_no,"
            " extract(epoch FROM opened_at)::bigint AS opened_at, open, high, low, close, volume"
            " FROM bar"
        )
        loader.plan_merge(conn)
        for statement in (loader._UPDATE, loader._UPSERT_NEW):
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + statement, params))
            assert "Hash" in plan
            assert "Nested Loop" not in plan
