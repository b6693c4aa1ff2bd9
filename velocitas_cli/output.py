"""How commands print: a rich table for people, `--json` for scripts; errors on stderr.

Tables fit the terminal (80 columns included): times are shortened to UTC minutes, long
decimals rounded for display, and a cell too wide wraps rather than losing its end to an
ellipsis. `--json` keeps every value exact."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NoReturn

import orjson
import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from velocitas.errors import InvalidRequest, NotFound, VelocitasError

console = Console()
# Errors are never wrapped: a wrapped path or row list would break copy-paste and grep.
err_console = Console(stderr=True, soft_wrap=True)

JsonOption = typer.Option(False, "--json", help="Print the result as JSON for scripts.")

EXIT_INVALID_INPUT = 2  # the conventional "usage / bad input" exit code
EXIT_NOT_FOUND = 3
EXIT_FAILURE = 1


def emit_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2).decode() + "\n")


def new_table(title: str) -> Table:
    """An empty table in the commands' style: a rule under the header and one space between
    columns (no borders), so nine columns of numbers fit in 80."""
    return Table(title=escape(title), box=box.SIMPLE_HEAD, show_edge=False, padding=0)


def table(
    title: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    no_wrap: Sequence[str] = (),
) -> None:
    """Print `rows` under `columns` (default: the first row's keys); a cell too wide wraps
    (`no_wrap` columns, e.g. times, never do), so nothing is cut off."""
    columns = list(columns or (rows[0].keys() if rows else []))
    view = new_table(title)
    for column in columns:
        view.add_column(escape(column), overflow="fold", no_wrap=column in no_wrap)
    for row in rows:
        view.add_row(*(escape(cell(row.get(column))) for column in columns))
    console.print(view)


def cell(value: Any) -> str:
    """A value as a table shows it: times short, floats and long decimals rounded."""
    # Imported here: the report package brings the engine (numba), which most commands that
    # print a table (users, models, news) never need.
    from velocitas.report.summary import display_number, format_time

    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, float | Decimal):
        return display_number(value)
    if isinstance(value, dict):
        return " ".join(f"{k}={cell(v)}" for k, v in value.items())
    return str(value)


def fail(error: VelocitasError | str, code: int | None = None) -> NoReturn:
    """Print the error on stderr and exit: 2 for bad input, 3 for not found, 1 otherwise."""
    if code is None:
        if isinstance(error, InvalidRequest):
            code = EXIT_INVALID_INPUT
        elif isinstance(error, NotFound):
            code = EXIT_NOT_FOUND
        else:
            code = EXIT_FAILURE
    err_console.print(f"[bold red]error:[/] {error}", highlight=False, markup=True)
    raise typer.Exit(code)
