"""Reading bars: fast columns for computation, exact rows for money, and data fingerprints.

    load_bars(symbol, timeframe, start, end)        -> BarArrays  (binary COPY → numpy)
    load_bars_exact(symbol, timeframe, start, end)  -> list[ExactBar]  (Decimal, as stored)
    snapshot_hash(symbol, timeframe, start, end)    -> sha256 hex of the rows read
    read_candles(conn, symbol, timeframe, …)        -> list[ExactBar]  (newest-N for the API)
    stored_series(conn)                              -> list[BarSeries]  (what exists)

Rules shared by every function here:

- Time ranges are half-open: bars with `start <= opened_at < end`; either bound may be None
  (unbounded). Bounds must be timezone-aware (`InvalidRequest` otherwise); `start > end` is an
  `InvalidRequest`, `start == end` an empty range. A range with no bars gives an empty result,
  never an error: callers decide whether that is one.
- A timeframe that is not stored for the symbol but can be built from one that is (its length
  is a whole multiple of the stored one) is resampled on the fly from the *largest* such stored
  timeframe (fewest rows to read): `1h` comes from stored `30m` bars rather than `1m` ones.
  Stored bars of the asked timeframe always win. A derived bar is included when its own
  `opened_at` is in the range; it is built from all source bars of its interval.
- Results are ascending by `opened_at`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from velocitas import embedded
from velocitas.db.bar_sql import (
    bucket,
    check_range,
    exact_select,
    parse_timeframe,
    range_select,
    source_range,
)
from velocitas.db.copy_out import drain_copy
from velocitas.db.urls import libpq_url
from velocitas.domain.bars import BarArrays, ExactBar
from velocitas.domain.resample import can_resample, resample
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import NotFound
from velocitas.settings import get_settings

__all__ = [
    "BarSeries",
    "load_bars",
    "load_bars_exact",
    "load_bars_with_snapshot",
    "read_candles",
    "resolve_source",
    "snapshot_hash",
    "stored_series",
    "stored_span",
]

# Trailing zeros trimmed, so equal values (`1.50`, `1.5`) travel, and hash, alike.
_CANONICAL_BAR_COLUMNS = sql.SQL(
    "opened_at, trim_scale(open), trim_scale(high), trim_scale(low), trim_scale(close), "
    "trim_scale(volume)"
)
_COPY_HEADER_BYTES = 19  # binary COPY: signature (11) + flags (4) + extension length (4)
_COPY_TRAILER_BYTES = 2  # the int16 -1 that ends the rows

PARALLEL_MIN_BARS = 200_000
"""From this many bars on, `load_bars` reads two halves over two connections at once (unless
`BAR_READ_CONNECTIONS` is 1)."""

SNAPSHOT_FORMAT = "velocitas-bars/2"  # /2: binary COPY rows (one read with the bars)


@dataclass(frozen=True, slots=True)
class BarSeries:
    """One stored (symbol, timeframe) series."""

    symbol: str
    timeframe: str


# ---------------------------------------------------------------------------------------------
# Public API


def load_bars(
    symbol: str,
    timeframe: Timeframe | str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    database_url: str | None = None,
) -> BarArrays:
    """Bars of `symbol` in `[start, end)` as float64 columns, read with binary COPY.

    Prices and volume are the float64 nearest to each stored NUMERIC. An unknown symbol or an
    empty range gives an empty `BarArrays`. See the module docstring for ranges and resampling.
    """
    return load_bars_with_snapshot(symbol, timeframe, start, end, database_url=database_url)[0]


def load_bars_with_snapshot(
    symbol: str,
    timeframe: Timeframe | str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    database_url: str | None = None,
) -> tuple[BarArrays, str]:
    """`load_bars` and the `snapshot_hash` of exactly the rows it read, from one read."""
    target = parse_timeframe(timeframe)
    check_range(start, end)
    url = _libpq(database_url)
    with _snapshot(url) as conn:
        source = resolve_source(conn, symbol, target)
        digest = _snapshot_digest(symbol, target, source)
        if source is None:
            return BarArrays.empty(symbol, target), digest.hexdigest()
        low, high = source_range(source, target, start, end)
        bars = _read_columns(conn, url, symbol, source, low, high, digest)
    return resample(bars, target), digest.hexdigest()


def load_bars_exact(
    symbol: str,
    timeframe: Timeframe | str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    database_url: str | None = None,
) -> list[ExactBar]:
    """The same bars as `load_bars`, exactly as stored: Decimal values, UTC datetimes.

    Resampled bars are aggregated in SQL on the NUMERIC values, so they are exact too.
    """
    target = parse_timeframe(timeframe)
    check_range(start, end)
    with _snapshot(_libpq(database_url)) as conn:
        if resolve_source(conn, symbol, target) is None:
            return []
        return read_candles(conn, symbol, target, start=start, end=end)


def snapshot_hash(
    symbol: str,
    timeframe: Timeframe | str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    database_url: str | None = None,
) -> str:
    """A sha256 (hex) identifying exactly the stored rows a `load_bars` call reads.

    Hashes a header (format, symbol, timeframe, source timeframe) and then, in time order, the
    stored source bars as PostgreSQL's binary COPY sends them: `opened_at` and the five NUMERIC
    values with trailing zeros trimmed (so `1.50` and `1.5`, equal values, hash alike). Any
    changed, added or removed bar changes the hash; nothing else does. `load_bars_with_snapshot`
    computes the same hash from the read that loads the bars.
    """
    return load_bars_with_snapshot(symbol, timeframe, start, end, database_url=database_url)[1]


def stored_span(
    symbol: str, timeframe: Timeframe | str, *, database_url: str | None = None
) -> tuple[datetime, datetime] | None:
    """`opened_at` of the first and the last `timeframe` bar of `symbol` (stored or derived),
    or None when there is none: what "all stored data" means for a range left open."""
    target = parse_timeframe(timeframe)
    with _snapshot(_libpq(database_url)) as conn:
        source = resolve_source(conn, symbol, target)
        if source is None:
            return None
        first_source, _ = _first_and_last(conn, symbol, source, None, None)
        if first_source is None:
            return None
        # No source bar lies before the first one, so any lower bound one bar earlier finds
        # the derived bar that holds it.
        earlier = target.add(first_source, -2)
        (first,) = read_candles(conn, symbol, target, start=earlier, limit=1)
        (last,) = read_candles(conn, symbol, target, limit=1)
    return first.opened_at, last.opened_at


def _snapshot_digest(symbol: str, target: Timeframe, source: Timeframe | None) -> Any:
    return hashlib.sha256(
        f"{SNAPSHOT_FORMAT}\nsymbol={symbol}\ntimeframe={target.value}\n"
        f"source={source.value if source else ''}\n".encode()
    )


def read_candles(
    conn: psycopg.Connection,
    symbol: str,
    timeframe: Timeframe | str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> list[ExactBar]:
    """Exact bars on an open connection; ascending by `opened_at`.

    With `limit` and no `start`: the newest `limit` bars before `end` (or before now-ish: the
    latest stored), still in ascending order. With `start`: the first `limit` bars from it.
    A range without bars gives an empty list; a symbol/timeframe that is neither stored nor
    derivable raises `NotFound`.
    """
    target = parse_timeframe(timeframe)
    check_range(start, end)
    source = resolve_source(conn, symbol, target)
    if source is None:
        raise NotFound(f"no {target.value} bars for {symbol!r}, stored or derivable")
    newest_first = limit is not None and start is None
    if source != target and newest_first:
        assert limit is not None
        start = _newest_window_start(conn, symbol, source, target, end, limit)
    low, high = source_range(source, target, start, end)
    query = exact_select(symbol, source, target, low, high, newest_first=newest_first, limit=limit)
    with conn.cursor() as cursor:
        rows = cursor.execute(query).fetchall()
    if newest_first:
        rows.reverse()
    return [ExactBar(row[0].astimezone(UTC), *row[1:]) for row in rows]


def resolve_source(conn: psycopg.Connection, symbol: str, target: Timeframe) -> Timeframe | None:
    """The stored timeframe that `target` bars of `symbol` are read from, or None.

    `target` itself when stored; otherwise the largest stored timeframe that divides it.
    """
    candidates = sorted(
        (t for t in Timeframe if can_resample(t, target)),
        key=lambda t: t.nominal_seconds,
        reverse=True,
    )
    candidates.remove(target)
    candidates.insert(0, target)
    row = conn.execute(
        "SELECT t FROM unnest(%s::text[]) WITH ORDINALITY AS c(t, rank) "
        "WHERE EXISTS (SELECT 1 FROM bar WHERE symbol = %s AND timeframe = c.t) "
        "ORDER BY rank LIMIT 1",
        ([t.value for t in candidates], symbol),
    ).fetchone()
    return None if row is None else Timeframe(row[0])


def stored_series(conn: psycopg.Connection) -> list[BarSeries]:
    """Every stored (symbol, timeframe), sorted; a loose index scan, fast on large tables."""
    rows = conn.execute(
        """
        WITH RECURSIVE series AS (
            (SELECT symbol, timeframe FROM bar ORDER BY symbol, timeframe LIMIT 1)
            UNION ALL
            SELECT next.symbol, next.timeframe FROM series, LATERAL (
                SELECT symbol, timeframe FROM bar
                WHERE (symbol, timeframe) > (series.symbol, series.timeframe)
                ORDER BY symbol, timeframe LIMIT 1
            ) AS next
        )
        SELECT symbol, timeframe FROM series
        """
    ).fetchall()
    return [BarSeries(symbol, timeframe) for symbol, timeframe in rows]


# ---------------------------------------------------------------------------------------------
# Columns: binary COPY of the stored NUMERIC values, decoded client-side (see velocitas.db.pgbinary)


def _read_columns(
    conn: psycopg.Connection,
    url: str,
    symbol: str,
    source: Timeframe,
    low: datetime | None,
    high: datetime | None,
    digest: Any,
) -> BarArrays:
    first, last = _first_and_last(conn, symbol, source, low, high)
    if first is None or last is None:
        return BarArrays.empty(symbol, source)
    estimate = source.bars_in(first, last) + 1
    if estimate < PARALLEL_MIN_BARS or get_settings().bar_read_connections < 2:
        parts = [_copy_columns(conn, symbol, source, low, high, int(estimate))]
    else:
        # Two halves over two connections sharing one snapshot: the server formats rows on
        # two cores while this process decodes. Split on the grid, halfway in time.
        middle = source.add(source.floor(first + (last - first) / 2))
        snapshot_id = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert snapshot_id is not None
        with ThreadPoolExecutor(max_workers=1) as pool:
            half = int(estimate) // 2
            later = pool.submit(
                _copy_columns_in, url, snapshot_id[0], symbol, source, middle, high, half
            )
            earlier = _copy_columns(conn, symbol, source, low, middle, half)
            parts = [earlier, later.result()]
    for part in parts:
        digest.update(part[2])
    if len(parts) == 1:
        opened_at, values, _ = parts[0]
    else:
        opened_at = np.concatenate([p[0] for p in parts])
        values = np.concatenate([p[1] for p in parts], axis=1)
    return BarArrays(symbol, source, opened_at, *values)


def _copy_columns_in(
    url: str,
    snapshot_id: str,
    symbol: str,
    source: Timeframe,
    low: datetime | None,
    high: datetime | None,
    expected_rows: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_id)))
        result = _copy_columns(conn, symbol, source, low, high, expected_rows)
        conn.execute("COMMIT")
    return result


def _copy_columns(
    conn: psycopg.Connection,
    symbol: str,
    source: Timeframe,
    low: datetime | None,
    high: datetime | None,
    expected_rows: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bars' columns, and the rows exactly as sent (without COPY's header and trailer)
    for the snapshot hash."""
    # Imported here: the numba decoder costs startup time that the gateway never needs.
    from velocitas.db.pgbinary import decode_bars

    query = range_select(_CANONICAL_BAR_COLUMNS, symbol, source, low, high)
    # COPY takes no bind parameters: the values are rendered as quoted literals by psycopg.
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(query).as_string(conn)
    # ~115 bytes a row (8-decimal prices); a wrong guess only costs a buffer regrowth. The
    # estimate comes from the time span, so sparse data is capped rather than trusted.
    size_hint = min(120 * expected_rows + 64, 1 << 28)
    raw = drain_copy(conn, statement, size_hint=size_hint)
    opened_at, values = decode_bars(raw)
    return opened_at, values, raw[_COPY_HEADER_BYTES:-_COPY_TRAILER_BYTES]


def _newest_window_start(
    conn: psycopg.Connection,
    symbol: str,
    source: Timeframe,
    target: Timeframe,
    end: datetime | None,
    limit: int,
) -> datetime | None:
    """A start that holds the newest `limit` derived bars when the data has no gaps.

    Aggregating the whole history to keep its tail would read every row; with gaps the window
    may hold fewer bars than `limit`, and then the whole history before `end` is used.
    """
    _, high = source_range(source, target, None, end)
    _, last = _first_and_last(conn, symbol, source, None, high)
    if last is None:
        return None
    newest = target.floor(last)
    start = target.add(newest, -(limit - 1))
    low, high = source_range(source, target, start, end)
    count = conn.execute(
        sql.SQL("SELECT count(DISTINCT {}) FROM ({}) AS r").format(
            bucket(target), range_select(sql.SQL("opened_at"), symbol, source, low, high)
        )
    ).fetchone()
    return start if count is not None and count[0] >= limit else None


def _first_and_last(
    conn: psycopg.Connection,
    symbol: str,
    timeframe: Timeframe,
    low: datetime | None,
    high: datetime | None,
) -> tuple[datetime | None, datetime | None]:
    """`opened_at` of the first and last stored bar in the range: two primary-key probes."""
    row = conn.execute(
        sql.SQL("SELECT ({}), ({})").format(
            range_select(sql.SQL("opened_at"), symbol, timeframe, low, high, limit=1),
            range_select(
                sql.SQL("opened_at"), symbol, timeframe, low, high, newest_first=True, limit=1
            ),
        )
    ).fetchone()
    return (None, None) if row is None else (row[0], row[1])


# ---------------------------------------------------------------------------------------------
# Connections


def _libpq(database_url: str | None) -> str:
    return libpq_url(database_url or embedded.database_url(get_settings()))


@contextmanager
def _snapshot(url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection inside one read-only REPEATABLE READ transaction: every query sees the
    same data, even while an import commits."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield conn
        finally:
            conn.execute("ROLLBACK")
