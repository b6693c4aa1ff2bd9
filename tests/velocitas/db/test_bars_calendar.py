"""Reading daily stock bars as weekly and monthly ones: SQL and numpy agree on the calendar grid."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from backtesting.test import GOOG

from tests.velocitas.db.bar_rows import Row, insert_bars
from velocitas.db import bars
from velocitas.domain.bars import to_epoch_ns


def _goog_rows() -> list[Row]:
    frame = GOOG.loc["2004-12-01":"2005-03-31"]
    return [
        (
            datetime(day.year, day.month, day.day, tzinfo=UTC),
            *(Decimal(str(v)) for v in (o, h, lo, c)),
            Decimal(int(v)),
        )
        for day, (o, h, lo, c, v) in zip(frame.index, frame.to_numpy(), strict=True)
    ]


@pytest.mark.parametrize("timeframe", ["1w", "1mo"])
def test_weekly_and_monthly_bars_from_stored_daily_ones_agree_exact_and_float(
    database_url: str, timeframe: str
) -> None:
    insert_bars(database_url, "GOOG", "1d", _goog_rows())
    exact = bars.load_bars_exact("GOOG", timeframe)
    floats = bars.load_bars("GOOG", timeframe)
    assert [to_epoch_ns(b.opened_at) for b in exact] == floats.opened_at.tolist()
    assert [float(b.close) for b in exact] == floats.close.tolist()
    assert [float(b.volume) for b in exact] == floats.volume.tolist()
    if timeframe == "1mo":
        assert [b.opened_at.month for b in exact] == [12, 1, 2, 3]
        january = exact[1]
        assert (january.open, january.high, january.low, january.close, january.volume) == (
            Decimal("197.4"),
            Decimal("205.3"),
            Decimal("176.29"),
            Decimal("195.62"),
            Decimal(205_164_900),
        )
    else:
        assert all(b.opened_at.weekday() == 0 for b in exact)


def test_newest_monthly_candles_step_back_whole_months(database_url: str) -> None:
    insert_bars(database_url, "GOOG", "1d", _goog_rows())
    with psycopg.connect(database_url) as conn:
        newest = bars.read_candles(conn, "GOOG", "1mo", limit=2)
    assert [b.opened_at for b in newest] == [
        datetime(2005, 2, 1, tzinfo=UTC),
        datetime(2005, 3, 1, tzinfo=UTC),
    ]
