"""Checks that need no database: number syntax, the time grid, duplicate times.

Comparisons between values (prices > 0, high >= open, ...) are left to PostgreSQL, which
makes them on NUMERIC, exactly; see `velocitas.ingest.loader`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from velocitas.domain.timeframe import Timeframe
from velocitas.ingest.problems import ProblemLog
from velocitas.ingest.times import format_micros

# A plain decimal number, optionally with an exponent: what NUMERIC accepts, minus NaN,
# Infinity and digit separators. Spaces around it are allowed (NUMERIC ignores them); tabs,
# quotes and backslashes never pass, so accepted text is safe in COPY's text format.
DECIMAL_TEXT = r"^ *[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})? *$"


def check_number_syntax(
    values: pa.Array, column: str, problems: ProblemLog
) -> npt.NDArray[np.bool_]:
    """Mask of rows whose `values` are decimal numbers; the others are logged."""
    matches = pc.match_substring_regex(values, DECIMAL_TEXT).fill_null(False)
    ok = np.asarray(matches.to_numpy(zero_copy_only=False), dtype=bool)
    if not ok.all():

        def reason(row: int) -> str:
            text = values[row].as_py()
            if text is None or not text.strip():
                return "missing value"
            return f"not a finite decimal number: {text!r}"

        problems.add(np.flatnonzero(~ok), column, reason)
    return ok


def check_grid(
    micros: npt.NDArray[np.int64],
    has_time: npt.NDArray[np.bool_],
    timeframe: Timeframe,
    column: str,
    problems: ProblemLog,
) -> npt.NDArray[np.bool_]:
    """Mask of rows whose time is a bar opening of the timeframe (its UTC grid)."""
    on_grid = has_time & timeframe.is_aligned_ns(micros * 1000)
    off = np.flatnonzero(has_time & ~on_grid)
    problems.add(
        off,
        column,
        lambda row: (
            f"{format_micros(int(micros[row]))} is not on the {timeframe.value} grid "
            f"({timeframe.grid_rule})"
        ),
    )
    return on_grid


def check_duplicates(
    micros: npt.NDArray[np.int64],
    has_time: npt.NDArray[np.bool_],
    column: str,
    problems: ProblemLog,
) -> npt.NDArray[np.bool_]:
    """Mask of rows whose time appeared on an earlier row; those rows are logged."""
    rows = np.flatnonzero(has_time)
    order = rows[np.argsort(micros[rows], kind="stable")]  # equal times keep file order
    times = micros[order]
    repeat = np.zeros(order.size, dtype=bool)
    repeat[1:] = times[1:] == times[:-1]
    duplicate = np.zeros(micros.size, dtype=bool)
    duplicate[order[repeat]] = True
    if repeat.any():
        # For each repeat, the first row of its run of equal times.
        run_start = np.maximum.accumulate(np.where(repeat, 0, np.arange(order.size)))
        first_row = np.empty(micros.size, dtype=np.int64)
        first_row[order] = order[run_start]
        problems.add(
            np.flatnonzero(duplicate),
            column,
            lambda row: (
                f"duplicate time {format_micros(int(micros[row]))} "
                f"(first at row {int(first_row[row]) + 1})"
            ),
        )
    return duplicate
