"""Small runs in plain Python: `velocitas backtest run` on a few thousand bars skips numba.

numba costs a process about 0.8 s before its first compiled loop runs, caches warm; a backtest
on 30,000 bars or fewer runs faster than that as plain Python, with the same result
(`velocitas.jit`). The choice has to be made before the area's modules are imported, so it is
made from the command line as typed, before typer parses it: the legs' symbols (`--symbol`,
`--leg SYMBOL:...`) and how many bars of any timeframe are stored for them, counted up to the
limit. Anything unclear (no symbol, no database, `VELOCITAS_JIT` set, `--help`) keeps numba: the
choice only ever costs time, never a different result.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from velocitas import jit

__all__ = ["SMALL_RUN_ROWS", "leg_symbols", "prefer_plain_python"]

SMALL_RUN_ROWS = 30_000
"""Stored rows (all legs, every timeframe) at most for a run in plain Python. Measured on the
2-core VM: every strategy on 30,000 daily bars, stops and the bridge path included, ran
1.1-1.6 s end to end in plain Python against 1.7-3.8 s compiled (bench/RESULTS.md, issue 13)."""


def leg_symbols(args: Sequence[str]) -> list[str]:
    """The symbols named by `--symbol X`, `--symbol=X` and `--leg X:STRATEGY[...]`."""
    symbols = []
    for index, arg in enumerate(args):
        name, equals, inline = arg.partition("=")
        if name not in ("--symbol", "--leg"):
            continue
        value = inline if equals else (args[index + 1] if index + 1 < len(args) else "")
        symbol = value.split(":", 1)[0] if name == "--leg" else value
        if symbol:
            symbols.append(symbol)
    return symbols


def prefer_plain_python(args: Sequence[str]) -> bool:
    """Choose plain Python for a `backtest run` with these arguments (after `run`) when the
    bars stored for its symbols are few. Returns whether the process now runs plain Python."""
    if jit.JIT_ENV in os.environ:
        return False  # the user chose
    if "--help" in args:
        return False  # nothing runs: no database to ask (nor an embedded server to start)
    symbols = leg_symbols(args)
    if not symbols or _stored_rows(symbols, SMALL_RUN_ROWS + 1) > SMALL_RUN_ROWS:
        return False
    return jit.use_plain_python()


def _stored_rows(symbols: list[str], limit: int) -> int:
    """Rows stored for `symbols`, counted up to `limit` (an index scan that stops there);
    `limit` itself when the database cannot be asked."""
    import psycopg

    from velocitas import embedded
    from velocitas.db.urls import libpq_url
    from velocitas.errors import VelocitasError

    try:
        with psycopg.connect(libpq_url(embedded.database_url()), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM bar WHERE symbol = ANY(%s) LIMIT %s) AS b",
                (symbols, limit),
            ).fetchone()
    except (psycopg.Error, OSError, VelocitasError):
        return limit
    return limit if row is None else int(row[0])
