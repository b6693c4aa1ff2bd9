"""The bar queries walk the primary key instead of sorting, and round ranges to the grid."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from psycopg import sql

from velocitas.db.bar_sql import BAR_COLUMNS, exact_select, range_select
from velocitas.domain.timeframe import Timeframe


def _plan(url: str, query: sql.Composed) -> str:
    with psycopg.connect(url) as conn:
        conn.execute("SET enable_seqscan = off")
        return "\n".join(row[0] for row in conn.execute(sql.SQL("EXPLAIN ") + query).fetchall())


def test_exact_select_newest_first_walks_the_primary_key_backwards(database_url: str) -> None:
    query = exact_select(
        "BTCUSDT", Timeframe.M1, Timeframe.M1, None, None, newest_first=True, limit=500
    )
    plan = _plan(database_url, query)
    assert "Index Scan Backward using pk_bar" in plan
    assert "Sort" not in plan


def test_range_select_in_time_order_needs_no_sort(database_url: str) -> None:
    low = datetime(2024, 1, 1, tzinfo=UTC)
    plan = _plan(database_url, range_select(BAR_COLUMNS, "BTCUSDT", Timeframe.M1, low, None))
    assert "pk_bar" in plan
    assert "Sort" not in plan
