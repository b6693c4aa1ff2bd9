"""`velocitas data ...`: import bar files, generate synthetic bars, list and delete series."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from velocitas.calendars import known_calendar
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest, VelocitasError
from velocitas.ingest import ImportSummary, ProgressCallback, import_bars, import_table
from velocitas.ingest.catalog import delete_series, list_series, series_span
from velocitas.ingest.source import parse_column_map
from velocitas.jobs import broker_url
from velocitas.synth import DEFAULT_START, synth_bars, write_csv, write_parquet
from velocitas.timeparse import parse_instant
from velocitas_cli.output import (
    EXIT_FAILURE,
    EXIT_INVALID_INPUT,
    JsonOption,
    console,
    emit_json,
    err_console,
    fail,
    table,
)

app = typer.Typer(
    help="Market data: import bars, synthesise bars, list and delete series.", no_args_is_help=True
)

_PROGRESS_FROM_BYTES = 4 << 20  # smaller files finish before a bar is worth drawing
_PHASES = {
    "synth": "generating",
    "read": "reading",
    "check": "checking",
    "load": "loading",
    "merge": "merging",
}

SymbolOption = typer.Option(..., "--symbol", help="Symbol the bars belong to, e.g. BTCUSD.")
TimeframeOption = typer.Option(
    ..., "--timeframe", help=f"Bar length: {', '.join(t.value for t in Timeframe)}."
)
PathArgument = typer.Argument(..., help="A .csv or .parquet file of bars.")
OutOption = typer.Option(
    None, "--out", help="Write FILE.csv or FILE.parquet instead of storing the bars."
)


@app.command("import")
def import_file(
    path: Path = PathArgument,
    symbol: str = SymbolOption,
    timeframe: str = TimeframeOption,
    tz: str | None = typer.Option(
        None, "--tz", help="IANA zone of times written without an offset (e.g. Europe/Berlin)."
    ),
    time_column: str | None = typer.Option(
        None, "--time-column", help="The column holding the bar's time (default: found by name)."
    ),
    columns: str | None = typer.Option(
        None,
        "--columns",
        help="Which columns hold the values, e.g. open=Open,close=Adj Close (default: by name).",
    ),
    time_format: str | None = typer.Option(
        None, "--time-format", help="strptime format of the times, e.g. '%d.%m.%Y %H:%M:%S.%f'."
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Store the good rows and report the bad ones."
    ),
    json: bool = JsonOption,
) -> None:
    """Check every row of PATH, then store it all (or nothing) for SYMBOL and TIMEFRAME."""
    if not path.is_file():
        _fail(InvalidRequest(f"{path}: no such file", field="path"))
    show = not json and path.stat().st_size >= _PROGRESS_FROM_BYTES
    try:
        mapping = None if columns is None else parse_column_map(columns)
        with _progress(show) as progress:
            summary = import_bars(
                path,
                symbol=symbol,
                timeframe=_timeframe(timeframe),
                tz=tz,
                time_column=time_column,
                columns=mapping,
                time_format=time_format,
                skip_invalid=skip_invalid,
                progress=progress,
            )
    except VelocitasError as exc:
        _fail(exc)
    _announce(summary)
    _print_summary(summary, json)


@app.command()
def synth(
    symbol: str = typer.Option("SYN", "--symbol", help="Symbol for the generated bars."),
    timeframe: str = typer.Option("1m", "--timeframe", help="Bar length."),
    bars: int = typer.Option(1000, "--bars", min=1, help="How many bars."),
    seed: int = typer.Option(7, "--seed", help="Random seed: same seed, same bars."),
    start: str | None = typer.Option(
        None, "--start", help=f"First bar's time, ISO-8601 with zone (default {DEFAULT_START})."
    ),
    out: Path | None = OutOption,
    json: bool = JsonOption,
) -> None:
    """Generate realistic synthetic bars into a file, or straight into the database."""
    try:
        frame = _timeframe(timeframe)
        first = DEFAULT_START if start is None else parse_instant(start, field="start", naive=None)
        if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
            raise InvalidRequest(f"{out}: use a .csv or .parquet file name", field="out")
        with _progress(not json and bars >= 200_000) as progress:
            if progress is not None:
                progress("synth", 0, 1)
            generated = synth_bars(bars, frame, seed, first)
            if out is None:
                summary = import_table(
                    generated,
                    symbol=symbol,
                    timeframe=frame,
                    progress=progress,
                    source_name=f"synth(seed={seed})",
                )
    except VelocitasError as exc:
        _fail(exc)
    if out is None:
        _announce(summary)
        _print_summary(summary, json)
        return
    (write_csv if out.suffix.lower() == ".csv" else write_parquet)(generated, out)
    result = {
        "path": str(out),
        "bars": bars,
        "seed": seed,
        "first_opened_at": generated.column("opened_at")[0].as_py(),
        "last_opened_at": generated.column("opened_at")[-1].as_py(),
        "bytes": out.stat().st_size,
    }
    if json:
        emit_json(result)
    else:
        console.print(f"wrote {bars:,} bars to [bold]{escape(str(out))}[/]")


@app.command("list")
def list_(
    json: bool = JsonOption,
    calendar: str | None = typer.Option(
        None,
        "--calendar",
        help="Count gaps on this market calendar (crypto, fx, XNYS, ...); default: inferred "
        "per series from its spacing.",
    ),
) -> None:
    """Stored series: symbol, timeframe, first and last bar, bar count, gaps."""
    try:
        if calendar is not None:
            calendar = known_calendar(calendar)
        series = [s.to_dict() for s in list_series(calendar=calendar)]
    except VelocitasError as exc:
        _fail(exc)
    if json:
        emit_json(series)
        return
    rows = [
        {
            "symbol": row["symbol"],
            "timeframe": row["timeframe"],
            "first": _iso(row["first_opened_at"]),
            "last": _iso(row["last_opened_at"]),
            "bars": row["bars"],
            "missing": row["missing_bars"],
            "gaps": row["gap_count"],
        }
        for row in series
    ]
    table("bar series", rows)


@app.command()
def delete(
    symbol: str = SymbolOption,
    timeframe: str = TimeframeOption,
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking first."),
    json: bool = JsonOption,
) -> None:
    """Delete every stored bar of SYMBOL at TIMEFRAME (one transaction), after asking."""
    try:
        frame = _timeframe(timeframe)
        if not yes:
            span = series_span(symbol, frame)
            question = (
                f"Delete {span.bars:,} {span.timeframe} bars of {symbol} "
                f"({_iso(span.first_opened_at)} .. {_iso(span.last_opened_at)})?"
            )
            if not typer.confirm(question, err=True):
                fail("nothing deleted", code=EXIT_FAILURE)
        deleted = delete_series(symbol, frame)
    except VelocitasError as exc:
        _fail(exc)
    if json:
        emit_json(deleted.to_dict())
        return
    console.print(
        f"deleted {deleted.bars:,} {deleted.timeframe} bars of {escape(deleted.symbol)} "
        f"({_iso(deleted.first_opened_at)} .. {_iso(deleted.last_opened_at)})",
        highlight=False,
    )


def _announce(summary: ImportSummary) -> None:
    """Once the import committed: the workers evaluate the alert rules watching the series."""
    # Imported here: the rules bring the strategies and indicators, which importing needs not.
    from velocitas.copilot import announce_import

    announce_import(summary, _QueueSender())


class _QueueSender:
    """Sends a task to the workers through a Celery producer made only when needed: an import
    that no alert rule watches imports no Celery (`velocitas.copilot.announce_import`)."""

    def send_task(
        self, name: str, *, args: list[str], task_id: str, queue: str, headers: dict[str, str]
    ) -> Any:
        from celery import Celery

        producer = Celery("velocitas-cli", broker=broker_url(), set_as_current=False)
        try:
            return producer.send_task(
                name, args=args, task_id=task_id, queue=queue, headers=headers
            )
        finally:
            producer.close()


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _timeframe(text: str) -> Timeframe:
    try:
        return Timeframe.parse(text)
    except ValueError as exc:
        raise InvalidRequest(f"--timeframe: {exc}", field="timeframe") from exc


def _print_summary(summary: ImportSummary, json: bool) -> None:
    if json:
        emit_json(summary.to_dict())
        return
    fields = (
        "read", "inserted", "updated", "unchanged", "rejected",
        "first_opened_at", "last_opened_at", "missing_bars", "gap_count",
    )  # fmt: skip
    table(
        f"{summary.symbol} {summary.timeframe} from {summary.source}",
        [{"field": name, "value": getattr(summary, name)} for name in fields],
    )
    for gap in summary.gaps:
        console.print(f"gap: {gap.first_missing} .. {gap.last_missing} ({gap.missing} missing)")
    for problem in summary.problems:
        err_console.print(f"rejected {escape(str(problem))}", highlight=False)


def _fail(error: VelocitasError) -> NoReturn:
    # Messages quote file contents; escaping keeps a stray "[/]" from breaking rich markup.
    code = EXIT_INVALID_INPUT if isinstance(error, InvalidRequest) else None
    fail(escape(str(error)), code=code)


@contextmanager
def _progress(show: bool) -> Iterator[ProgressCallback | None]:
    if not show:
        yield None
        return
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("reading", total=None)

        def update(phase: str, done: int, total: int) -> None:
            bar.update(task, description=_PHASES.get(phase, phase), completed=done, total=total)

        yield update
