"""`velocitas backtest run | strategies`: a backtest on stored bars, printed or as HTML.

Options map one to one onto `BacktestSpec` fields (docs/backtesting.md lists them), read by
`velocitas_cli.backtest_spec` as every command that runs the engine reads them: rates take `%`
or `bps`, a bare number is a fraction; times without an offset are UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, time
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.markup import escape

from velocitas.db.bars import load_bars
from velocitas.domain.bars import BarArrays
from velocitas.domain.trades import Trade
from velocitas.engine import BacktestResult, BacktestSpec, run_backtest
from velocitas.errors import InvalidRequest, VelocitasError
from velocitas.report import headline_rows, pnl_rows, render_html, trade_rows, trade_summary_rows
from velocitas.report.summary import format_time
from velocitas.strategies import registry
from velocitas_cli.backtest_spec import (
    EndOption,
    ExecutionOptions,
    ParamOption,
    StartOption,
    StrategyOption,
    SymbolOption,
    TimeframeOption,
    command_spec,
    execution_options,
    option_for,
    register_cli_strategies,
)
from velocitas_cli.output import JsonOption, console, emit_json, err_console, fail, new_table

app = typer.Typer(help="Backtests on stored bars: run one, list strategies.", no_args_is_help=True)

# Module-level: option objects with a mutable default or a non-immutable type (ruff B008).
LegOption = typer.Option([], "--leg", help="Another leg: SYMBOL:STRATEGY[:k=v,k=v] (repeat).")
HtmlOption = typer.Option(None, "--html", help="Also write a self-contained HTML report here.")


@app.command()
@execution_options
def run(
    symbol: str | None = SymbolOption,
    timeframe: str = TimeframeOption,
    start: str | None = StartOption,
    end: str | None = EndOption,
    strategy: str | None = StrategyOption,
    param: list[str] = ParamOption,
    leg: list[str] = LegOption,
    html_path: Path | None = HtmlOption,
    last: int = typer.Option(10, "--last", min=0, help="How many last trades to list."),
    with_equity: bool = typer.Option(False, "--with-equity", help="--json: add the equity."),
    json: bool = JsonOption,
    *,
    execution: ExecutionOptions,
) -> None:
    """Run one backtest on stored bars and print its report."""
    try:
        spec = command_spec(
            symbol=symbol,
            strategy=strategy,
            params=param,
            legs=leg,
            timeframe=timeframe,
            start=start,
            end=end,
            execution=execution,
        )
        with _steps(show=not json) as step:
            step("loading bars")
            bars = _load(spec)
            step("running")
            result = run_backtest(spec, bars)
            if html_path is not None:
                step("writing HTML")
                write_html(html_path, render_html(result, spec, bars))
    except VelocitasError as exc:
        fail_naming_option(exc)
    if json:
        emit_json(result.to_dict(include_equity=with_equity))
        return
    _print_report(result, spec, last)
    if html_path is not None:
        console.print(f"HTML report: [bold]{escape(str(html_path))}[/]")


@app.command()
def strategies(json: bool = JsonOption) -> None:
    """Registered strategies with their parameters, defaults and bounds."""
    register_cli_strategies()
    catalogue = registry.describe()
    if json:
        emit_json(catalogue)
        return
    view = new_table("strategies")
    # escape: rich would read "[min, max]" as a markup tag and print nothing of it.
    for column in ("name", "description", escape("parameters (default, [min, max])")):
        view.add_column(column, overflow="fold")
    view.add_column("constraints", overflow="fold")
    for entry in catalogue:
        params = "\n".join(
            f"{name}: {info['type']} = {info['default']!r}"
            + (f" [{_bound(info['min'])}, {_bound(info['max'])}]" if _bounded(info) else "")
            for name, info in entry["params"].items()
        )
        cells = (entry["name"], entry["description"], params, "\n".join(entry["constraints"]))
        view.add_row(*(escape(cell) for cell in cells))
    console.print(view)


def _bounded(info: dict[str, Any]) -> bool:
    return info["min"] is not None or info["max"] is not None


def _bound(value: Any) -> str:
    return "" if value is None else str(value)


# ---------------------------------------------------------------------------------------------
# Running and printing


def _load(spec: BacktestSpec) -> dict[str, BarArrays]:
    bars: dict[str, BarArrays] = {}
    for index, symbol in enumerate(spec.symbols):
        series = load_bars(symbol, spec.timeframe, spec.start, spec.end)
        if len(series) == 0:
            raise InvalidRequest(
                f"no {spec.timeframe} bars for {symbol!r} in [{spec.start.isoformat()}, "
                f"{spec.end.isoformat()}); `velocitas data list` shows what is stored",
                field=f"legs[{index}].symbol",
            )
        bars[symbol] = series
    return bars


@contextmanager
def _steps(*, show: bool) -> Iterator[Any]:
    if not show:
        yield lambda _description: None
        return
    # Imported here: rich's live display costs ~50 ms that `--json` runs never need.
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("starting", total=None)
        yield lambda description: progress.update(task, description=description)


def _print_report(result: BacktestResult, spec: BacktestSpec, last: int) -> None:
    legs = ", ".join(f"{leg.strategy.name} on {leg.symbol}" for leg in spec.legs)
    console.print(
        f"[bold]{escape(legs)}[/] {spec.timeframe} "
        f"{format_time(spec.start)} .. {format_time(spec.end)} UTC",
        highlight=False,
    )
    # The hash goes on its own line: in a table cell a narrow terminal would cut it.
    identity = ("Engine version", "Result hash")
    rows = [row for row in headline_rows(result) if row[0] not in identity]
    _rows_table("performance", ("metric", "value"), rows)
    breakdown = result.breakdown
    pnl_header = ("", "trades", "gross", "fees", "net")
    by_leg = {
        f"{k}: {spec.legs[k].strategy.name} on {spec.legs[k].symbol}": v
        for k, v in breakdown.by_leg.items()
    }
    _rows_table("P&L per leg", pnl_header, pnl_rows(by_leg | {"all": breakdown.overall}))
    if len(breakdown.by_symbol) > 1:
        _rows_table("P&L per symbol", pnl_header, pnl_rows(breakdown.by_symbol))
    if len(breakdown.by_strategy) > 1:
        _rows_table("P&L per strategy", pnl_header, pnl_rows(breakdown.by_strategy))
    _rows_table("trades", ("", "value"), trade_summary_rows(result))
    if last and result.trades:
        _print_trades(result.trades[-last:], len(result.trades), len(spec.legs))
    console.print(f"engine {result.engine_version}")
    console.print(f"result hash {result.result_hash}")


_TRADE_HEADER = ("leg", "symbol", "side", "qty", "entry", "price", "exit", "price", "net",
                 "return", "exit by")  # fmt: skip


def _print_trades(shown: Sequence[Trade], total: int, legs: int) -> None:
    """The last trades, compact: prices to six digits, short UTC times (dates alone on daily
    bars; the year in the title when the trades share one)."""
    moments = [t.entry_at for t in shown] + [t.exit_at for t in shown]
    if all(m.astimezone(UTC).time() == time(0) for m in moments):
        layout, zone = "%Y-%m-%d", "UTC"
    elif len({m.astimezone(UTC).year for m in moments}) == 1:
        layout, zone = "%m-%d %H:%M", f"{moments[0].astimezone(UTC).year}, UTC"
    else:
        layout, zone = "%Y-%m-%d %H:%M", "UTC"
    rows = [list(row) for row in trade_rows(shown, compact=True)]
    for row, trade in zip(rows, shown, strict=True):
        row[4] = trade.entry_at.astimezone(UTC).strftime(layout)
        row[6] = trade.exit_at.astimezone(UTC).strftime(layout)
    # One leg: its number and symbol are in the title line; leave room for the rest.
    skip = 2 if legs == 1 else 0
    title = f"last {len(shown)} of {total} trades (times {zone})"
    _rows_table(
        title, _TRADE_HEADER[skip:], [row[skip:] for row in rows], keep=(4 - skip, 6 - skip)
    )


def write_html(path: Path, page: str) -> None:
    """Write the page at `path`; a path that cannot be written is bad input naming --html."""
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InvalidRequest(f"--html {path}: {exc.strerror or exc}", field="html") from exc


def _rows_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], keep: Sequence[int] = ()
) -> None:
    view = new_table(title)
    for index, column in enumerate(header):
        # fold, not ellipsis: a narrow terminal wraps a value rather than cutting it; the
        # `keep` columns (times) stay whole.
        view.add_column(
            column,
            justify="left" if index == 0 else "right",
            overflow="fold",
            no_wrap=index in keep,
        )
    for row in rows:
        view.add_row(*(escape(cell) for cell in row))
    console.print(view)


def fail_naming_option(error: VelocitasError) -> NoReturn:
    """`fail`, with the message led by the option at fault when it does not name it yet."""
    message = str(error)
    field = getattr(error, "field", None)
    if field and not message.startswith(("--", field)):
        message = f"{option_for(field) or field}: {message}"
    code = 2 if isinstance(error, InvalidRequest) else None
    fail(escape(message), code=code)
