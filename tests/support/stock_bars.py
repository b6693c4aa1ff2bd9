"""Real daily stock bars (backtesting.py's GOOG, 2004-08-19 to 2013-03-01) as an import table."""

from __future__ import annotations

import pyarrow as pa
from backtesting.test import GOOG


def goog_daily_table() -> pa.Table:
    """GOOG's daily bars as text columns, one row per session at 00:00Z, as a file holds them."""
    return pa.table(
        {
            "opened_at": [f"{day:%Y-%m-%d}T00:00:00Z" for day in GOOG.index],
            **{
                name.lower(): [str(v) for v in GOOG[name]]
                for name in ("Open", "High", "Low", "Close")
            },
            "volume": [str(int(v)) for v in GOOG["Volume"]],
        }
    )
