"""list_series: span, count and gaps per stored series, computed in SQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from velocitas.ingest import import_bars
from velocitas.ingest.catalog import list_series


def test_list_series_reports_span_count_and_gaps(
    database_url: str, write_csv: Callable[..., Path]
) -> None:
    minutes = [f"2024-01-01T00:{m:02d}:00Z,1,2,1,1.5,1" for m in (0, 1, 2, 5, 6, 9)]
    import_bars(write_csv(*minutes), symbol="BTCUSD", timeframe="1m")
    hours = [f"2024-01-0{d}T00:00:00Z,1,2,1,1.5,1" for d in (1, 2)]
    import_bars(write_csv(*hours, name="daily.csv"), symbol="BTCUSD", timeframe="1d")
    import_bars(write_csv(minutes[0], name="eth.csv"), symbol="ETHUSD", timeframe="1m")

    series = list_series()

    assert [(s.symbol, s.timeframe, s.bars, s.missing_bars, s.gap_count) for s in series] == [
        ("BTCUSD", "1d", 2, 0, 0),
        ("BTCUSD", "1m", 6, 4, 2),
        ("ETHUSD", "1m", 1, 0, 0),
    ]
    assert series[1].first_opened_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert series[1].last_opened_at == datetime(2024, 1, 1, 0, 9, tzinfo=UTC)


def test_list_series_empty_database_lists_nothing(database_url: str) -> None:
    assert list_series() == []
