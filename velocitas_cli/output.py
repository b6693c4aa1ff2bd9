"""How commands print: a rich table for people, `--json` for scripts; errors on stderr."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console
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


def table(
    title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> None:
    columns = list(columns or (rows[0].keys() if rows else []))
    view = Table(title=title)
    for column in columns:
        view.add_column(column)
    for row in rows:
        view.add_row(*(_cell(row.get(column)) for column in columns))
    console.print(view)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


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
