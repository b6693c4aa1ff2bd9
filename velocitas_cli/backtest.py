"""`velocitas backtest run | strategies`: a backtest on stored bars, printed or as HTML.

Options map one to one onto `BacktestSpec` fields (docs/backtesting.md lists them). Rates take
`%` or `bps`; a bare number is the spec field's own unit (a fraction, or bps for slippage).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from velocitas.db.bars import load_bars
from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestResult, BacktestSpec, run_backtest
from velocitas.errors import InvalidRequest, VelocitasError
from velocitas.report import headline_rows, pnl_rows, render_html, trade_rows, trade_summary_rows
from velocitas.report.summary import TRADE_COLUMNS
from velocitas.strategies import registry
from velocitas_cli.backtest_spec import (
    build_spec,
    option_for,
    parse_bps,
    parse_number,
    parse_rate,
    parse_risk,
    parse_sizing,
    parse_stop,
    spec_request,
)
from velocitas_cli.output import JsonOption, console, emit_json, err_console, fail

app = typer.Typer(help="Backtests on stored bars: run one, list strategies.", no_args_is_help=True)

# Module-level: option objects with a mutable default or a non-immutable type (ruff B008).
ParamOption = typer.Option([], "--param", help="Strategy parameter NAME=VALUE (repeat).")
LegOption = typer.Option([], "--leg", help="Another leg: SYMBOL:STRATEGY[:k=v,k=v] (repeat).")
HtmlOption = typer.Option(None, "--html", help="Also write a self-contained HTML report here.")


@app.command()
def run(
    symbol: str | None = typer.Option(None, "--symbol", help="Symbol of the first leg."),
    timeframe: str = typer.Option(..., "--timeframe", help="Bar length, e.g. 1m, 1h, 1d."),
    start: str = typer.Option(..., "--start", help="First bar time, ISO-8601 (no zone: UTC)."),
    end: str = typer.Option(..., "--end", help="End time, exclusive, ISO-8601 (no zone: UTC)."),
    strategy: str | None = typer.Option(None, "--strategy", help="Strategy of the first leg."),
    param: list[str] = ParamOption,
    cash: str = typer.Option("10000", "--cash", help="Initial cash."),
    fee: str | None = typer.Option(None, "--fee", help="Fee rate per order: 0.1%, 10bps."),
    fixed_fee: str = typer.Option("0", "--fixed-fee", help="Fixed fee per order (cash)."),
    slippage: str = typer.Option("0", "--slippage", help="Slippage: 2bps, 0.02%."),
    fill: str = typer.Option("next_open", "--fill", help="next_open or same_close."),
    size: str | None = typer.Option(None, "--size", help="Fraction of equity per entry: 50%."),
    quantity: str | None = typer.Option(None, "--quantity", help="Fixed units per entry."),
    cash_per_trade: str | None = typer.Option(
        None, "--cash-per-trade", help="Fixed notional per entry."
    ),
    lot: str | None = typer.Option(None, "--lot", help="Lot size quantities round down to."),
    stop_loss: str | None = typer.Option(None, "--stop-loss", help="2% or 3atr."),
    take_profit: str | None = typer.Option(None, "--take-profit", help="4% or 6atr."),
    trailing_stop: str | None = typer.Option(None, "--trailing-stop", help="1.5% or 2atr."),
    atr_period: int = typer.Option(14, "--atr-period", help="ATR period of ATR stops."),
    path: str = typer.Option("pessimistic", "--path", help="pessimistic, ohlc or adaptive."),
    allow_short: bool = typer.Option(False, "--allow-short", help="Take short positions."),
    max_position: str | None = typer.Option(None, "--max-position", help="e.g. 50%."),
    max_daily_loss: str | None = typer.Option(None, "--max-daily-loss", help="e.g. 5%."),
    max_drawdown: str | None = typer.Option(None, "--max-drawdown", help="Kill switch, 20%."),
    cooldown: str | None = typer.Option(None, "--cooldown", help="LOSSES:BARS, e.g. 3:60."),
    leg: list[str] = LegOption,
    html_path: Path | None = HtmlOption,
    last: int = typer.Option(10, "--last", min=0, help="How many last trades to list."),
    with_equity: bool = typer.Option(False, "--with-equity", help="--json: add the equity."),
    json: bool = JsonOption,
) -> None:
    """Run one backtest on stored bars and print its report."""
    try:
        request = spec_request(
            symbol=symbol,
            strategy=strategy,
            params=param,
            legs=leg,
            timeframe=timeframe,
            start=start,
            end=end,
            allow_short=allow_short,
        )
        request |= {
            "initial_cash": parse_number(cash, "--cash"),
            "fees": {"fixed": parse_number(fixed_fee, "--fixed-fee")}
            | ({} if fee is None else {"rate": parse_rate(fee, "--fee")}),
            "slippage_bps": parse_bps(slippage, "--slippage"),
            "fill": fill,
            "sizing": parse_sizing(size, quantity, cash_per_trade, lot),
            "stops": {
                "stop_loss": parse_stop(stop_loss, "--stop-loss", atr_period),
                "take_profit": parse_stop(take_profit, "--take-profit", atr_period),
                "trailing_stop": parse_stop(trailing_stop, "--trailing-stop", atr_period),
                "intrabar_path": path,
            },
            "risk": parse_risk(max_position, max_daily_loss, max_drawdown, cooldown),
        }
        spec = build_spec(request)
        for index, spec_leg in enumerate(spec.legs):  # refuse bad parameters before any I/O
            registry.build(
                spec_leg.strategy.name, spec_leg.strategy.params, field=f"legs[{index}].strategy"
            )
        with _steps(show=not json) as step:
            step("loading bars")
            bars = _load(spec)
            step("running")
            result = run_backtest(spec, bars)
            if html_path is not None:
                step("writing HTML")
                _write_html(html_path, render_html(result, spec, bars))
    except VelocitasError as exc:
        _fail(exc)
    if json:
        emit_json(result.to_dict(include_equity=with_equity))
        return
    _print_report(result, spec, last)
    if html_path is not None:
        console.print(f"HTML report: [bold]{escape(str(html_path))}[/]")


@app.command()
def strategies(json: bool = JsonOption) -> None:
    """Registered strategies with their parameters, defaults and bounds."""
    catalogue = registry.describe()
    if json:
        emit_json(catalogue)
        return
    view = Table(title="strategies")
    view.add_column("name", no_wrap=True)
    for column in ("description", "parameters (default, [min, max])", "constraints"):
        view.add_column(column)
    for entry in catalogue:
        params = "\n".join(
            f"{name}: {info['type']} = {info['default']!r}"
            + (f" [{_bound(info['min'])}, {_bound(info['max'])}]" if _bounded(info) else "")
            for name, info in entry["params"].items()
        )
        view.add_row(entry["name"], entry["description"], params, "\n".join(entry["constraints"]))
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
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("starting", total=None)
        yield lambda description: progress.update(task, description=description)


def _print_report(result: BacktestResult, spec: BacktestSpec, last: int) -> None:
    legs = ", ".join(f"{leg.strategy.name} on {leg.symbol}" for leg in spec.legs)
    console.print(
        f"[bold]{escape(legs)}[/] {spec.timeframe} "
        f"{spec.start.isoformat()} .. {spec.end.isoformat()}",
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
        shown = result.trades[-last:]
        title = f"last {len(shown)} of {len(result.trades)} trades"
        # One leg: its number and symbol are in the title line; leave room for the rest.
        skip = 2 if len(spec.legs) == 1 else 0
        trade_cells = [row[skip:] for row in trade_rows(shown)]
        _rows_table(title, TRADE_COLUMNS[skip:], trade_cells)
    console.print(f"engine {result.engine_version}")
    console.print(f"result hash {result.result_hash}")


def _write_html(path: Path, page: str) -> None:
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InvalidRequest(f"--html {path}: {exc.strerror or exc}", field="html") from exc


def _rows_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    view = Table(title=title)
    for index, column in enumerate(header):
        # fold, not ellipsis: a narrow terminal wraps a timestamp rather than cutting it.
        view.add_column(column, justify="left" if index == 0 else "right", overflow="fold")
    for row in rows:
        view.add_row(*(escape(cell) for cell in row))
    console.print(view)


def _fail(error: VelocitasError) -> NoReturn:
    message = str(error)
    field = getattr(error, "field", None)
    if field and not message.startswith(("--", field)):
        message = f"{option_for(field) or field}: {message}"
    code = 2 if isinstance(error, InvalidRequest) else None
    fail(escape(message), code=code)
