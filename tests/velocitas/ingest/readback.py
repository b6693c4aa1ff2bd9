"""Read stored bars back with plain SQL, independent of the code under test."""

from __future__ import annotations

from decimal import Decimal

import psycopg

StoredRow = tuple[str, Decimal, Decimal, Decimal, Decimal, Decimal]


def stored_bars(url: str, symbol: str = "BTCUSD") -> list[StoredRow]:
    """Stored bars of `symbol`, oldest first, prices as Decimal straight from NUMERIC."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
            " open, high, low, close, volume FROM bar WHERE symbol = %s ORDER BY opened_at",
            (symbol,),
        ).fetchall()
    return [tuple(row) for row in rows]  # type: ignore[misc]
