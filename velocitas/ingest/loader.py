"""Loading into PostgreSQL: COPY into a temporary staging table, exact value checks on
NUMERIC, then one INSERT ... ON CONFLICT into `bar` (or a plain INSERT where the series has
nothing in the span yet). The caller holds the transaction, so a file either lands whole or
not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from velocitas.domain.timeframe import Timeframe
from velocitas.errors import ConfigurationError, InvalidRequest
from velocitas.ingest.problems import ProblemLog
from velocitas.ingest.source import VALUE_COLUMNS

COPY_CHUNK_ROWS = 1 << 17  # formatting a chunk overlaps with the server parsing the last

_STAGING_DDL = """
CREATE TEMPORARY TABLE bar_staging (
    row_no integer NOT NULL,
    opened_at bigint,
    open numeric NOT NULL,
    high numeric NOT NULL,
    low numeric NOT NULL,
    close numeric NOT NULL,
    volume numeric NOT NULL
) ON COMMIT DROP
"""


def _values_ok(alias: str = "") -> str:
    """The value rules as SQL over the staging table's columns (prefixed with `alias`).

    Six comparisons instead of nine: with low > 0 below open and close, and high above
    them, every price is positive, so the three other "> 0" tests add nothing.
    """
    o, h, lo, c, v = (f"{alias}{name}" for name in VALUE_COLUMNS)
    return f"{lo} > 0 AND {v} >= 0 AND {h} >= {o} AND {h} >= {c} AND {lo} <= {o} AND {lo} <= {c}"


# NUMERIC comparisons are exact: two 8-decimal prices one unit apart are never confused,
# as they could be after a trip through float64.
_BAD_VALUES = f"""
SELECT row_no, open::text, high::text, low::text, close::text, volume::text,
       open > 0, high > 0, low > 0, close > 0, volume >= 0,
       high >= greatest(open, close), low <= least(open, close)
FROM bar_staging
WHERE NOT ({_values_ok()})
ORDER BY row_no
"""

_COLUMNS = "(symbol, timeframe, opened_at, open, high, low, close, volume)"

# Rows refused in memory are staged without a time, and rows whose values break a rule are
# filtered here, so with skip_invalid only good rows reach `bar`.
_GOOD = f"s.opened_at IS NOT NULL AND {_values_ok('s.')}"
_INSERT = f"""
INSERT INTO bar AS b {_COLUMNS}
SELECT %(symbol)s::varchar, %(timeframe)s::varchar, to_timestamp(s.opened_at),
       s.open, s.high, s.low, s.close, s.volume
FROM bar_staging AS s
WHERE {_GOOD}
"""


def _differs(alias: str) -> str:
    """SQL: the stored bar `b` has other values than the row called `alias`."""
    stored, given = (", ".join(f"{a}.{name}" for name in VALUE_COLUMNS) for a in ("b", alias))
    return f"({stored}) IS DISTINCT FROM ({given})"


_SERIES_SPAN = (
    "b.symbol = %(symbol)s::varchar AND b.timeframe = %(timeframe)s::varchar"
    " AND b.opened_at BETWEEN to_timestamp(%(first)s) AND to_timestamp(%(last)s)"
)

# Only bars whose values differ are written: a re-import touches no row at all (an
# ON CONFLICT DO UPDATE would still lock, and so rewrite, every conflicting row).
# Values compare as numbers: 1.50 equals 1.5.
_UPDATE = f"""
UPDATE bar AS b
SET open = s.open, high = s.high, low = s.low, close = s.close, volume = s.volume
FROM bar_staging AS s
WHERE {_SERIES_SPAN} AND b.opened_at = to_timestamp(s.opened_at) AND {_GOOD}
  AND {_differs("s")}
"""

# The new bars. Imports of a series hold `lock_series`, so NOT EXISTS already leaves out
# every stored bar; ON CONFLICT keeps the upsert's meaning should any other writer race us.
# `xmax = 0` tells a fresh row from an updated one.
_UPSERT_NEW = f"""
WITH merged AS (
    {_INSERT}
      AND NOT EXISTS (
          SELECT 1 FROM bar AS e
          WHERE e.symbol = %(symbol)s::varchar AND e.timeframe = %(timeframe)s::varchar
            AND e.opened_at BETWEEN to_timestamp(%(first)s) AND to_timestamp(%(last)s)
            AND e.opened_at = to_timestamp(s.opened_at)
      )
    ON CONFLICT (symbol, timeframe, opened_at) DO UPDATE
    SET open = excluded.open, high = excluded.high, low = excluded.low,
        close = excluded.close, volume = excluded.volume
    WHERE {_differs("excluded")}
    RETURNING xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged
"""

_OVERLAPS = """
SELECT EXISTS (
    SELECT 1 FROM bar
    WHERE symbol = %(symbol)s::varchar AND timeframe = %(timeframe)s::varchar
      AND opened_at BETWEEN to_timestamp(%(first)s) AND to_timestamp(%(last)s)
)
"""


@contextmanager
def database_errors(source: str) -> Iterator[None]:
    """Translate the database errors an import can meet into the platform's exceptions."""
    try:
        yield
    except psycopg.errors.UndefinedTable as exc:
        raise ConfigurationError(
            "the database has no bar table; run `velocitas db upgrade` first"
        ) from exc
    except psycopg.errors.DataError as exc:
        # Only a value beyond NUMERIC's range (over 131072 digits) gets past the checks.
        raise InvalidRequest(f"{source}: {exc.diag.message_primary}", field="file") from exc


@dataclass(frozen=True, slots=True)
class StagedRows:
    """Rows to stage, in load order: 0-based file rows, epoch seconds (None where the time
    is unusable) and the five value columns as text."""

    rows: npt.NDArray[np.int64]
    seconds: pa.Array
    values: dict[str, pa.Array]


def copy_payload(staged: StagedRows, start: int = 0, stop: int | None = None) -> memoryview:
    """Rows `start:stop` as COPY text: tab-separated, `\\N` for no time, a line per row."""
    stop = len(staged.rows) if stop is None else stop
    row_no = pa.array(staged.rows[start:stop] + 1).cast(pa.string())
    seconds = staged.seconds[start:stop].cast(pa.string()).fill_null("\\N")
    columns = [staged.values[name][start:stop] for name in VALUE_COLUMNS]
    lines = pc.binary_join_element_wise(row_no, seconds, *columns, "\t")
    lines = pc.binary_join_element_wise(lines, pa.scalar(""), "\n")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset :]
    data = lines.buffers()[2]
    if data is None:
        return memoryview(b"")
    return memoryview(data)[int(offsets[0]) : int(offsets[len(lines)])]


def stage(
    conn: psycopg.Connection,
    staged: StagedRows,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Create the staging table and COPY the rows into it, a chunk of rows at a time."""
    conn.execute(_STAGING_DDL)
    total = len(staged.rows)
    with conn.cursor() as cursor, cursor.copy("COPY bar_staging FROM STDIN") as copy:
        for start in range(0, total, COPY_CHUNK_ROWS):
            stop = min(start + COPY_CHUNK_ROWS, total)
            copy.write(copy_payload(staged, start, stop))
            if progress is not None:
                progress(stop, total)


def check_values(conn: psycopg.Connection, header: dict[str, str], problems: ProblemLog) -> None:
    """Log every staged row whose values break a rule, comparing on NUMERIC."""
    rows = conn.execute(_BAD_VALUES).fetchall()
    if not rows:
        return
    row_index = np.array([r[0] - 1 for r in rows], dtype=np.int64)
    text = {r[0] - 1: r[1:6] for r in rows}
    flags = np.array([r[6:] for r in rows], dtype=bool)

    def not_positive(i: int) -> Callable[[int], str]:
        return lambda row: f"price must be > 0, got {text[row][i]}"

    for i, column in enumerate(("open", "high", "low", "close")):
        problems.add(row_index[~flags[:, i]], header[column], not_positive(i))
    problems.add(
        row_index[~flags[:, 4]],
        header["volume"],
        lambda row: f"volume must be >= 0, got {text[row][4]}",
    )
    problems.add(
        row_index[~flags[:, 5]],
        header["high"],
        lambda row: f"high {text[row][1]} is below max(open {text[row][0]}, close {text[row][3]})",
    )
    problems.add(
        row_index[~flags[:, 6]],
        header["low"],
        lambda row: f"low {text[row][2]} is above min(open {text[row][0]}, close {text[row][3]})",
    )


def lock_series(conn: psycopg.Connection, symbol: str, timeframe: Timeframe) -> None:
    """Make imports of one series queue behind each other until this transaction ends, so
    what `overlaps` saw stays true while we write."""
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
        (f"bar:{symbol}:{timeframe.value}",),
    )


def overlaps(
    conn: psycopg.Connection, symbol: str, timeframe: Timeframe, first: int, last: int
) -> bool:
    """Whether `bar` holds any bar of the series from `first` to `last` (epoch seconds)."""
    params = {"symbol": symbol, "timeframe": timeframe.value, "first": first, "last": last}
    row = conn.execute(_OVERLAPS, params).fetchone()
    return bool(row and row[0])


def insert(conn: psycopg.Connection, symbol: str, timeframe: Timeframe) -> int:
    """Insert the good staged rows where nothing is stored yet: returns how many.

    Only for a span `overlaps` found empty (under `lock_series`): a plain INSERT then does
    what the upsert would, at about half the cost (no speculative insertion per row).
    """
    params = {"symbol": symbol, "timeframe": timeframe.value}
    return conn.execute(_INSERT, params).rowcount


def plan_merge(conn: psycopg.Connection) -> None:
    """Make the merge's two joins hash joins: one pass over the staged rows, one over the
    stored bars of the span.

    Estimates cannot be trusted here: the temporary table has no statistics until analysed,
    and `bar` may have been filled moments ago, before autovacuum analysed it. A nested
    loop chosen on such estimates probes the index once per row at best, and at worst
    rescans a million staged rows for each of a million stored ones.
    """
    conn.execute("ANALYZE bar_staging")
    conn.execute("SET LOCAL enable_nestloop = off")
    conn.execute("SET LOCAL work_mem = '256MB'")  # the hash tables stay in memory


def upsert(
    conn: psycopg.Connection, symbol: str, timeframe: Timeframe, first: int, last: int
) -> tuple[int, int]:
    """Merge the good staged rows (times `first` to `last`, epoch seconds) into `bar`:
    update the stored bars whose values differ, insert the rest. Returns (inserted, updated).
    """
    params = {"symbol": symbol, "timeframe": timeframe.value, "first": first, "last": last}
    plan_merge(conn)
    updated = conn.execute(_UPDATE, params).rowcount
    row = conn.execute(_UPSERT_NEW, params).fetchone()
    assert row is not None
    return int(row[0]), updated + int(row[1])
