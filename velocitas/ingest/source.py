"""Reading bar files (CSV, Parquet) into columns, and finding the columns by name.

Values are kept as text so that prices reach PostgreSQL's NUMERIC exactly as written; the
time column keeps its own type (Parquet timestamps stay timestamps).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from velocitas.errors import InvalidFile, InvalidRequest, RowProblem
from velocitas.ingest.problems import MAX_LISTED

SourceFormat = Literal["csv", "parquet"]

TIME_COLUMN_NAMES = ("opened_at", "time", "timestamp", "date", "datetime")
"""Header names accepted for the bar's opening time (any case)."""
VALUE_COLUMNS = ("open", "high", "low", "close", "volume")
PANDAS_INDEX = "__index_level_0__"
"""Where `DataFrame.to_parquet` keeps an unnamed index (`to_csv` leaves its header empty)."""

_CSV_BLOCK_BYTES = 16 << 20


@dataclass(frozen=True, slots=True)
class RawBars:
    """A file's bar columns before validation.

    `opened_at` has the file's type (text for CSV); `values` are text. `header` maps each
    canonical name (`opened_at`, `open`, ...) to the name written in the file, for messages.
    """

    opened_at: pa.Array
    values: dict[str, pa.Array]
    header: dict[str, str]

    @property
    def n_rows(self) -> int:
        return len(self.opened_at)

    @classmethod
    def from_table(
        cls,
        table: pa.Table,
        source: str,
        *,
        time_column: str | None = None,
        columns: Mapping[str, str] | None = None,
    ) -> RawBars:
        """Pick the time and value columns out of `table` by name (see `map_columns`)."""
        header = map_columns(table.column_names, source, time_column=time_column, columns=columns)
        return cls.picked(table, header)

    @classmethod
    def picked(cls, table: pa.Table, header: dict[str, str]) -> RawBars:
        """The columns that `header` (canonical name -> the table's name) names."""
        opened_at = table.column(header["opened_at"]).combine_chunks()
        values = {
            name: _as_text(table.column(header[name]).combine_chunks()) for name in VALUE_COLUMNS
        }
        return cls(opened_at=opened_at, values=values, header=header)


def detect_format(path: Path) -> SourceFormat:
    """The format named by a file's suffix: `.csv` (also `.txt`) or `.parquet` (`.pq`)."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InvalidRequest(
        f"{path}: cannot tell the format from the suffix {suffix!r}; use .csv or .parquet",
        field="format",
    )


def parse_column_map(text: str) -> dict[str, str]:
    """`open=Open,close=Adj Close` -> {"open": "Open", "close": "Adj Close"}: which file
    column holds each bar value. Names are taken as written, without surrounding spaces."""
    mapping: dict[str, str] = {}
    for item in text.split(","):
        name, equals, column = item.partition("=")
        name, column = name.strip().lower(), column.strip()
        if not equals or not column:
            raise InvalidRequest(
                f"column mapping {item.strip()!r}: write VALUE=COLUMN, e.g. close=Adj Close",
                field="columns",
            )
        if name in mapping:
            raise InvalidRequest(f"column mapping names {name!r} twice", field="columns")
        mapping[name] = column
    return mapping


def map_columns(
    names: list[str],
    source: str,
    *,
    time_column: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Canonical column name -> the file's header name. Extra columns are ignored.

    The time column is `time_column` when given; else the one column named like a time
    (`TIME_COLUMN_NAMES`); else an unnamed first column (pandas' index). A value column is
    the one `columns` maps it to, else the one of its own name. Names match in any case.
    """
    columns = columns or {}
    unknown = sorted(set(columns) - set(VALUE_COLUMNS))
    if unknown:
        raise InvalidRequest(
            f"{source}: cannot map {', '.join(map(repr, unknown))}; map {', '.join(VALUE_COLUMNS)}"
            " (and choose the time column with --time-column)",
            field="columns",
        )
    by_lower: dict[str, str] = {}
    for name in names:
        by_lower.setdefault(name.strip().lower(), name)
    if time_column is not None:
        header = {"opened_at": _named(names, by_lower, time_column, source, "time_column")}
    else:
        header = {"opened_at": _time_column(names, by_lower, source)}
    for column in VALUE_COLUMNS:
        if column in columns:
            header[column] = _named(names, by_lower, columns[column], source, "columns")
        elif column in by_lower:
            header[column] = by_lower[column]
        else:
            raise InvalidRequest(
                f"{source}: no {column!r} column (found: {', '.join(names)}); "
                f"map one with --columns {column}=NAME",
                field=column,
            )
    return header


def _named(names: list[str], by_lower: dict[str, str], wanted: str, source: str, field: str) -> str:
    """The column called `wanted` (exactly, else in any case), or an error naming it."""
    if wanted in names:
        return wanted
    found = by_lower.get(wanted.strip().lower())
    if found is None:
        raise InvalidRequest(
            f"{source}: no column {wanted!r} (found: {', '.join(map(repr, names))})", field=field
        )
    return found


def _time_column(names: list[str], by_lower: dict[str, str], source: str) -> str:
    times = [by_lower[n] for n in TIME_COLUMN_NAMES if n in by_lower]
    if len(times) > 1:
        raise InvalidRequest(
            f"{source}: several time columns ({', '.join(times)}); keep exactly one "
            "or choose one with --time-column",
            field="opened_at",
        )
    if times:
        return times[0]
    # pandas writes an unnamed index (the dates) as a first column without a name
    if names and not names[0].strip():
        return names[0]
    if PANDAS_INDEX in names:
        return PANDAS_INDEX
    raise InvalidRequest(
        f"{source}: no time column; name one of {', '.join(TIME_COLUMN_NAMES)} "
        f"or choose one with --time-column (found: {', '.join(names) or 'no header'})",
        field="opened_at",
    )


def read_source(
    source: Path | bytes,
    fmt: SourceFormat,
    name: str,
    *,
    time_column: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> RawBars:
    """Read a CSV or Parquet file (a path or its bytes) into `RawBars`; `time_column` and
    `columns` choose the columns as `map_columns` says."""
    try:
        if fmt == "csv":
            return _read_csv(source, name, time_column, columns)
        return _read_parquet(source, name, time_column, columns)
    except InvalidFile:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"{name}: not a readable {fmt} file: {exc}", field="file") from exc


def _read_csv(
    source: Path | bytes, name: str, time_column: str | None, columns: Mapping[str, str] | None
) -> RawBars:
    names = _csv_header(source)
    header = map_columns(names, name, time_column=time_column, columns=columns)
    wanted = list(dict.fromkeys(header.values()))
    # Every column as text, including times: the exact digits go to NUMERIC, and the time
    # parser decides between epoch numbers and ISO-8601 itself.
    convert = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(wanted, pa.string()),
        include_columns=wanted,
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    read = pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=_CSV_BLOCK_BYTES)
    try:
        table = pa_csv.read_csv(_csv_input(source), read_options=read, convert_options=convert)
    except pa.ArrowInvalid as exc:
        if "CSV parse error" not in str(exc):
            raise
        raise _ragged_rows(source, names, name) from exc
    return RawBars.picked(table, header)


def _csv_input(source: Path | bytes) -> pa.BufferReader | str:
    return pa.BufferReader(source) if isinstance(source, bytes) else str(source)


def _ragged_rows(source: Path | bytes, names: list[str], name: str) -> InvalidFile:
    """Every row with the wrong number of fields, found by a second, serial read (the
    parallel reader cannot number rows). Such a file is refused even with skip_invalid:
    a row that lost a comma may have shifted its values into the wrong columns."""
    problems: list[RowProblem] = []

    def collect(row: pa_csv.InvalidRow) -> str:
        data_row = (row.number or 1) - 1  # physical row 1 is the header
        reason = f"expected {row.expected_columns} fields, got {row.actual_columns}: {row.text!r}"
        problems.append(RowProblem(row=data_row, column="(row)", reason=reason))
        return "skip"

    read = pa_csv.ReadOptions(column_names=names, skip_rows=1, use_threads=False)
    convert = pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))
    parse = pa_csv.ParseOptions(invalid_row_handler=collect)
    pa_csv.read_csv(
        _csv_input(source), read_options=read, parse_options=parse, convert_options=convert
    )
    return InvalidFile(name, problems[:MAX_LISTED], total=len(problems))


def _csv_header(source: Path | bytes) -> list[str]:
    if isinstance(source, bytes):
        head = source[: 1 << 16]
    else:
        with source.open("rb") as file:
            head = file.read(1 << 16)
    text = head.decode("utf-8-sig", errors="replace")
    line = text.splitlines()[0] if text else ""
    return next(csv.reader(io.StringIO(line)), [])


def _read_parquet(
    source: Path | bytes, name: str, time_column: str | None, columns: Mapping[str, str] | None
) -> RawBars:
    file = pq.ParquetFile(pa.BufferReader(source) if isinstance(source, bytes) else source)
    header = map_columns(file.schema_arrow.names, name, time_column=time_column, columns=columns)
    table = file.read(columns=list(dict.fromkeys(header.values())))
    return RawBars.picked(table, header)


def _as_text(values: pa.Array) -> pa.Array:
    """Values as text; floats print their shortest round-trip form, decimals every digit."""
    if pa.types.is_string(values.type):
        return values
    if pa.types.is_large_string(values.type):
        return values.cast(pa.string())
    return pc.cast(values, pa.string())
