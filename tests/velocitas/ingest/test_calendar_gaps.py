"""Gaps on a trading calendar: weekends and holidays are not gaps, missing sessions are.

Real data shipped with backtesting.py: GOOG daily (2004-08-19 .. 2013-03-01, XNYS sessions)
and EURUSD hourly (2017-04-19 .. 2018-02-07, 24/5).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from velocitas.ingest import import_bars
from velocitas.ingest.catalog import list_series

backtesting_test = pytest.importorskip("backtesting.test")


def _lines(frame: pd.DataFrame, time_format: str) -> list[str]:
    return [
        f"{at.strftime(time_format)},{r.Open},{r.High},{r.Low},{r.Close},{r.Volume}"
        for at, r in zip(frame.index, frame.itertuples(), strict=True)
    ]


def test_daily_stock_gaps_are_missing_sessions_only(
    database_url: str, write_csv: Callable[..., Path]
) -> None:
    goog = backtesting_test.GOOG.drop(pd.Timestamp("2010-03-10"))  # a Wednesday session
    summary = import_bars(
        write_csv(*_lines(goog, "%Y-%m-%dT00:00:00Z")), symbol="GOOG", timeframe="1d"
    )

    assert (summary.missing_bars, summary.gap_count) == (1, 1)
    assert summary.gaps[0].first_missing == "2010-03-10T00:00:00Z"
    (series,) = list_series()
    assert (series.missing_bars, series.gap_count) == (1, 1)
    # Measured as 24/7 slots the weekends and holidays were ~900 "missing" days.
    (as_crypto,) = list_series(calendar="crypto")
    assert as_crypto.missing_bars > 900


def test_hourly_fx_weekends_are_not_gaps(database_url: str, write_csv: Callable[..., Path]) -> None:
    eurusd = backtesting_test.EURUSD
    summary = import_bars(
        write_csv(*_lines(eurusd, "%Y-%m-%dT%H:00:00Z")), symbol="EURUSD", timeframe="1h"
    )

    # 42 weekends of 48 h were ~2,000 missing hours; what is left are holidays and thin hours.
    assert summary.missing_bars < 100
    assert all(pd.Timestamp(g.first_missing).day_of_week != 5 for g in summary.gaps)
    (series,) = list_series()
    assert series.missing_bars == summary.missing_bars
    assert series.gap_count == summary.gap_count
