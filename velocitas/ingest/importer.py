"""`import_bars`: one file of bars for one symbol and timeframe, checked, then upserted.

The path of every import (CLI, HTTP upload, synthetic data):

1. read the file into text columns (`velocitas.ingest.source`);
2. in memory: time parsing, the grid, duplicates, number syntax (`times`, `checks`);
3. in one transaction: COPY the rows into a staging table, compare values on NUMERIC,
   then merge into `bar` (`loader`): UPDATE the stored bars whose values differ and
   INSERT ... ON CONFLICT the new ones (a plain INSERT when nothing is stored in the
   file's span yet). On any bad row, unless `skip_invalid`, the transaction rolls
   back and `InvalidFile` lists the problems.

The separate scan for bad values runs only when it can find something: when rows were
already refused in memory, when stored bars overlap (the upsert cannot count what it
skipped), or when the plain INSERT took fewer rows than were staged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa

from velocitas.db.engine import connect, libpq_url
from velocitas.domain.symbols import SYMBOL_PATTERN
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidFile, InvalidRequest
from velocitas.ingest import loader
from velocitas.ingest.checks import check_duplicates, check_grid, check_number_syntax
from velocitas.ingest.problems import ProblemLog
from velocitas.ingest.source import VALUE_COLUMNS, RawBars, SourceFormat, detect_format, read_source
from velocitas.ingest.summary import ImportSummary, span_of
from velocitas.ingest.times import parse_opened_at, parse_zone

ProgressCallback = Callable[[str, int, int], None]
"""Called as `progress(phase, done, total)`; phases: read, check, load, merge."""

_SYMBOL = re.compile(SYMBOL_PATTERN)


def import_bars(
    source: Path | bytes,
    *,
    symbol: str,
    timeframe: Timeframe | str,
    fmt: SourceFormat | None = None,
    tz: str | None = None,
    time_column: str | None = None,
    columns: Mapping[str, str] | None = None,
    time_format: str | None = None,
    skip_invalid: bool = False,
    progress: ProgressCallback | None = None,
    database_url: str | None = None,
    source_name: str | None = None,
) -> ImportSummary:
    """Import a CSV or Parquet file (a path, or its bytes) of bars into `bar`.

    `fmt` defaults to the path's suffix (bytes: CSV). `tz` is the IANA zone of times
    written without an offset. `time_column` names the time column and `columns` maps
    value names to the file's columns (`{"close": "Adj Close"}`); by default both are found
    by name. `time_format` (strptime-style) reads text times that are not ISO-8601.
    Raises `InvalidFile` (nothing stored) when a row is bad, unless `skip_invalid`, and
    `InvalidRequest` for a bad symbol, timeframe, zone, header or mapping.
    """
    name = source_name or (str(source) if isinstance(source, Path) else "upload")
    if fmt is None:
        fmt = detect_format(source) if isinstance(source, Path) else "csv"
    series = _series(symbol, timeframe)
    parse_zone(tz)  # refuse an unknown zone before reading the file
    _report(progress, "read", 0, 1)
    raw = read_source(source, fmt, name, time_column=time_column, columns=columns)
    _report(progress, "read", 1, 1)
    rules = _TimeRules(tz, time_format)
    return _import_raw(raw, name, *series, rules, skip_invalid, progress, database_url)


def import_table(
    table: pa.Table,
    *,
    symbol: str,
    timeframe: Timeframe | str,
    tz: str | None = None,
    time_column: str | None = None,
    columns: Mapping[str, str] | None = None,
    time_format: str | None = None,
    skip_invalid: bool = False,
    progress: ProgressCallback | None = None,
    database_url: str | None = None,
    source_name: str = "table",
) -> ImportSummary:
    """`import_bars` for columns already in memory (as a file would hold them)."""
    series = _series(symbol, timeframe)
    parse_zone(tz)
    raw = RawBars.from_table(table, source_name, time_column=time_column, columns=columns)
    rules = _TimeRules(tz, time_format)
    return _import_raw(raw, source_name, *series, rules, skip_invalid, progress, database_url)


@dataclass(frozen=True, slots=True)
class _TimeRules:
    """How the time column reads: the zone of times without one, and a strptime format."""

    tz: str | None
    time_format: str | None


def _session_dates(timeframe: Timeframe) -> bool:
    """Whether a bare date names a bar of this timeframe (its session date): daily or longer."""
    return timeframe.nominal_seconds >= 86_400


def _series(symbol: str, timeframe: Timeframe | str) -> tuple[str, Timeframe]:
    if not _SYMBOL.fullmatch(symbol):
        raise InvalidRequest(
            f"invalid symbol {symbol!r}: 1-32 letters, digits or . _ : / -", field="symbol"
        )
    if isinstance(timeframe, Timeframe):
        return symbol, timeframe
    try:
        return symbol, Timeframe.parse(timeframe)
    except ValueError as exc:
        raise InvalidRequest(str(exc), field="timeframe") from exc


def _import_raw(
    raw: RawBars,
    name: str,
    symbol: str,
    timeframe: Timeframe,
    rules: _TimeRules,
    skip_invalid: bool,
    progress: ProgressCallback | None,
    database_url: str | None,
) -> ImportSummary:
    n = raw.n_rows
    header = raw.header
    problems = ProblemLog(n, {header[c]: i for i, c in enumerate(("opened_at", *VALUE_COLUMNS))})
    _report(progress, "check", 0, n)
    micros, has_time = parse_opened_at(
        raw.opened_at,
        parse_zone(rules.tz),
        header["opened_at"],
        problems,
        time_format=rules.time_format,
        session_dates=_session_dates(timeframe),
    )
    on_grid = check_grid(micros, has_time, timeframe, header["opened_at"], problems)
    duplicate = check_duplicates(micros, on_grid, header["opened_at"], problems)
    time_ok = on_grid & ~duplicate
    numbers_ok = np.ones(n, dtype=bool)
    for column in VALUE_COLUMNS:
        numbers_ok &= check_number_syntax(raw.values[column], header[column], problems)
    _report(progress, "check", n, n)

    staged = _staged_rows(raw, micros, time_ok, numbers_ok)
    timed = micros[time_ok] // 1_000_000
    first, last = (int(timed.min()), int(timed.max())) if timed.size else (0, 0)
    with loader.database_errors(name), _connect(database_url) as conn, conn.transaction():
        loader.stage(conn, staged, lambda done, total: _report(progress, "load", done, total))
        _report(progress, "merge", 0, 1)
        loader.lock_series(conn, symbol, timeframe)
        overlap = loader.overlaps(conn, symbol, timeframe, first, last)
        checked = bool(problems.total) or overlap
        if checked:
            _check_values(conn, name, header, problems, skip_invalid)
        if overlap:
            inserted, updated = loader.upsert(conn, symbol, timeframe, first, last)
        else:
            inserted, updated = loader.insert(conn, symbol, timeframe), 0
            # The INSERT skips rows whose values break a rule: a shortfall means some did.
            if not checked and inserted != n:
                _check_values(conn, name, header, problems, skip_invalid)
        _report(progress, "merge", 1, 1)

    span = span_of(micros[~problems.bad], timeframe, calendar_aware=True)
    return ImportSummary(
        source=name,
        symbol=symbol,
        timeframe=timeframe.value,
        read=n,
        inserted=inserted,
        updated=updated,
        unchanged=n - problems.total - inserted - updated,
        rejected=problems.total,
        first_opened_at=span.first_opened_at,
        last_opened_at=span.last_opened_at,
        missing_bars=span.missing_bars,
        gap_count=span.gap_count,
        gaps=span.gaps,
        problems=problems.first(),
    )


def _check_values(
    conn: psycopg.Connection,
    name: str,
    header: dict[str, str],
    problems: ProblemLog,
    skip_invalid: bool,
) -> None:
    loader.check_values(conn, header, problems)
    if problems.total and not skip_invalid:
        raise InvalidFile(name, problems.first(), total=problems.total)


def _staged_rows(
    raw: RawBars, micros: np.ndarray, time_ok: np.ndarray, numbers_ok: np.ndarray
) -> loader.StagedRows:
    """Rows whose numbers parse, in time order (the bar index then fills left to right)."""
    rows = np.flatnonzero(numbers_ok)
    seconds = micros[rows] // 1_000_000
    if seconds.size > 1 and not bool(np.all(seconds[1:] >= seconds[:-1])):
        rows = rows[np.argsort(seconds, kind="stable")]
        seconds = micros[rows] // 1_000_000
    everything = rows.size == raw.n_rows and bool(np.all(rows == np.arange(raw.n_rows)))
    take = None if everything else pa.array(rows)
    values = {
        column: raw.values[column] if take is None else raw.values[column].take(take)
        for column in VALUE_COLUMNS
    }
    return loader.StagedRows(
        rows=rows, seconds=pa.array(seconds, mask=~time_ok[rows]), values=values
    )


def _connect(database_url: str | None) -> psycopg.Connection:
    conn = connect() if database_url is None else psycopg.connect(libpq_url(database_url))
    # Room for the staging table in memory (default 8MB); settable only before its first use.
    conn.execute("SET temp_buffers = '256MB'")
    conn.commit()
    return conn


def _report(progress: ProgressCallback | None, phase: str, done: int, total: int) -> None:
    if progress is not None:
        progress(phase, done, total)
