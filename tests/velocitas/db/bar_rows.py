"""Test data: bar rows written straight into the `bar` table (independent of the importer)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

Row = tuple[datetime, Decimal, Decimal, Decimal, Decimal, Decimal]

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def insert_bars(url: str, symbol: str, timeframe: str, rows: Sequence[Row]) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO bar (symbol, timeframe, opened_at, open, high, low, close, volume) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(symbol, timeframe, *row) for row in rows],
        )


def random_rows(
    count: int, *, step: timedelta = timedelta(minutes=1), start: datetime = T0, seed: int = 7
) -> list[Row]:
    """`count` consecutive bars with 8-decimal prices, valid OHLC (low <= open, close <= high)."""
    rng = random.Random(seed)
    rows: list[Row] = []
    for i in range(count):
        a, b = (Decimal(rng.randint(1, 10**13)).scaleb(-8) for _ in range(2))
        high = max(a, b) + Decimal(rng.randint(0, 10**9)).scaleb(-8)
        low = max(min(a, b) - Decimal(rng.randint(0, 10**9)).scaleb(-8), Decimal("0.00000001"))
        volume = Decimal(rng.randint(0, 10**12)).scaleb(-8)
        rows.append((start + i * step, a, high, low, b, volume))
    return rows
