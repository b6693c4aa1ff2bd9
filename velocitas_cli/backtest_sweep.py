"""`velocitas backtest sweep` and `velocitas backtest walk-forward`: rank a strategy's parameter
grid, or walk it forward, on stored bars. `backtest_app` is the whole `velocitas backtest` group:
`velocitas_cli.backtest`'s commands and these two."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer

from velocitas.db.bars import load_bars
from velocitas.engine.spec import BacktestSpec
from velocitas.errors import InvalidRequest, VelocitasError
from velocitas.report.summary import display_number, format_time
from velocitas.research.grid import (
    Span,
    declared_span,
    grid_combinations,
    parse_range,
    parse_space,
    random_combinations,
)
from velocitas.research.objectives import OBJECTIVES
from velocitas.timeparse import parse_duration
from velocitas_cli import backtest
from velocitas_cli.backtest import HtmlOption, fail_naming_option, write_html
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
)
from velocitas_cli.output import JsonOption, console, emit_json, fail, table

_OBJECTIVE_HELP = f"Metric to maximise: {', '.join(OBJECTIVES)}."


def _fraction(text: str, field: str) -> float:
    raw = text.strip()
    try:
        value = Decimal(raw[:-1]) / 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation:
        raise InvalidRequest(f"{text!r} is not a fraction or a percentage", field=field) from None
    if not 0 < value <= 1:
        raise InvalidRequest(f"{text!r} must be above 0% and at most 100%", field=field)
    return float(value)


def _limit(exclude_drawdown: str | None) -> float | None:
    return None if exclude_drawdown is None else _fraction(exclude_drawdown, "--exclude-drawdown")


def _pairs(items: list[str], field: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InvalidRequest(f"{item!r}: write NAME=VALUE", field=field)
        pairs.append((name.strip(), value.strip()))
    return pairs


def _space(items: list[str], strategy: str, random: bool) -> dict[str, list[Any] | Span]:
    """The parameter space from --grid: lists of values; with --random, `START:STOP` (no step)
    is an interval to draw from and `*` the parameter's declared bounds."""
    if not items:
        raise InvalidRequest("give at least one --grid NAME=START:STOP[:STEP]", field="grid")
    space: dict[str, list[Any] | Span] = {}
    for name, value in _pairs(items, "grid"):
        if value.lower() in ("true,false", "false,true"):
            space[name] = [False, True]
        elif not random:
            space[name] = parse_range(value, field=f"grid.{name}")
        else:
            drawn = parse_space(value, field=f"grid.{name}")
            space[name] = declared_span(strategy, name) if drawn is None else drawn
    return space


@contextmanager
def _progress(show: bool, label: str) -> Iterator[Callable[[int, int], None]]:
    if not show:
        yield lambda done, total: None
        return
    # Imported here: rich's live display costs ~50 ms that `--json` runs never need.
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn(label),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _load(spec: BacktestSpec) -> Any:
    symbol = spec.legs[0].symbol
    bars = load_bars(symbol, spec.timeframe, spec.start, spec.end)
    if len(bars) == 0:
        raise InvalidRequest(
            f"no {spec.timeframe} bars stored for {symbol!r} in [{spec.start}, {spec.end})",
            field="symbol",
        )
    return {symbol: bars}


_Grid = typer.Option(
    [], "--grid", help="NAME=START:STOP[:STEP] or NAME=A,B,C (repeat per parameter)."
)
_Random = typer.Option(
    None,
    "--random",
    help="Draw N parameter sets at random instead; NAME=START:STOP then spans the interval,"
    " NAME=* the declared bounds.",
)
_Seed = typer.Option(0, "--seed", help="Seed of the random draw.")
_Objective = typer.Option("sharpe", "--objective", help=_OBJECTIVE_HELP)
_MinTrades = typer.Option(0, "--min-trades", help="Exclude runs with fewer trades.")
_ExcludeDrawdown = typer.Option(
    None, "--exclude-drawdown", help="Exclude runs with a deeper drawdown, e.g. 30%."
)
_Heatmap = typer.Option(None, "--heatmap", help="Write the heatmap HTML here.")
_Top = typer.Option(20, "--top", help="Rows of the ranked table to print.")
_InSample = typer.Option(..., "--in-sample", help="In-sample length: 90m, 12h, 30d, 2w, 6mo, 2y.")
_OutOfSample = typer.Option(..., "--out-of-sample", help="Out-of-sample length, e.g. 7d or 1mo.")
_Anchored = typer.Option(False, "--anchored", help="Grow the in-sample window from --start.")


@execution_options
def sweep(
    symbol: str | None = SymbolOption, timeframe: str = TimeframeOption,
    start: str | None = StartOption, end: str | None = EndOption,
    strategy: str | None = StrategyOption, grid: list[str] = _Grid, param: list[str] = ParamOption,
    random: int | None = _Random, seed: int = _Seed, objective: str = _Objective,
    min_trades: int = _MinTrades, exclude_drawdown: str | None = _ExcludeDrawdown,
    heatmap: Path | None = _Heatmap, top: int = _Top, json: bool = JsonOption,
    *, execution: ExecutionOptions,
) -> None:  # fmt: skip
    """Rank STRATEGY's parameter grid (or a random draw of it) by an objective."""
    try:
        spec = command_spec(
            symbol=symbol, strategy=strategy, params=param, timeframe=timeframe, start=start,
            end=end, execution=execution,
        )  # fmt: skip
        strategy = spec.legs[0].strategy.name
        space = _space(grid, strategy, random is not None)
        if objective not in OBJECTIVES:
            raise InvalidRequest(f"unknown objective {objective!r}", field="objective")
        limit = _limit(exclude_drawdown)
        if random is None:
            combos, skipped = grid_combinations(strategy, space)
        else:
            combos, skipped = random_combinations(strategy, space, random, seed)
        if not combos:
            raise InvalidRequest("no combination of the grid is valid", field="grid")
        bars = _load(spec)
        # The research modules are imported by the commands that use them: `backtest run`
        # (the same area) stays below a second on a small run (velocitas_cli.small_runs).
        from velocitas.research.sweeps import run_sweep

        with _progress(not json, "sweeping") as progress:
            result = run_sweep(
                spec, bars, combos, objective=objective, min_trades=min_trades,
                max_drawdown=limit, progress=progress, skipped=skipped,
            )  # fmt: skip
    except VelocitasError as exc:
        fail_naming_option(exc)
    heat = result.heatmap()
    if heatmap is not None:
        if heat is None:
            fail(InvalidRequest("a heatmap needs exactly two varying parameters", field="heatmap"))
        from velocitas.research.heatmap import write_heatmap

        write_heatmap(heat, heatmap, title=f"{strategy} on {spec.legs[0].symbol} {timeframe}")
    if json:
        emit_json(result.to_dict())
        return
    rows = [
        {"rank": r["rank"], **r["params"], **{k: _short(r[k]) for k in _COLUMNS}}
        for r in result.rows[:top]
    ]
    table(f"{strategy} by {objective} ({result.path} path)", rows)
    console.print(
        f"{len(result.rows)} ranked, {len(result.excluded)} excluded by constraints, "
        f"{result.skipped} invalid combinations skipped"
        + (f"; heatmap: {heatmap}" if heatmap else "")
    )


_COLUMNS = ("sharpe", "sortino", "calmar", "total_return", "profit_factor", "max_drawdown")


def _short(value: Any) -> Any:
    return f"{value:.4f}" if isinstance(value, float) else value


@execution_options
def walk_forward(
    symbol: str | None = SymbolOption, timeframe: str = TimeframeOption,
    start: str | None = StartOption, end: str | None = EndOption,
    strategy: str | None = StrategyOption, grid: list[str] = _Grid, param: list[str] = ParamOption,
    in_sample: str = _InSample, out_of_sample: str = _OutOfSample, anchored: bool = _Anchored,
    random: int | None = _Random, seed: int = _Seed, objective: str = _Objective,
    min_trades: int = _MinTrades, exclude_drawdown: str | None = _ExcludeDrawdown,
    html_path: Path | None = HtmlOption, json: bool = JsonOption,
    *, execution: ExecutionOptions,
) -> None:  # fmt: skip
    """Optimise on each in-sample window, trade the best out of sample, stitch the results."""
    try:
        spec = command_spec(
            symbol=symbol, strategy=strategy, params=param, timeframe=timeframe, start=start,
            end=end, execution=execution,
        )  # fmt: skip
        strategy = spec.legs[0].strategy.name
        space = _space(grid, strategy, random is not None)
        if objective not in OBJECTIVES:
            raise InvalidRequest(f"unknown objective {objective!r}", field="objective")
        limit = _limit(exclude_drawdown)
        is_length = parse_duration(in_sample, field="in_sample")
        oos_length = parse_duration(out_of_sample, field="out_of_sample")
        bars = _load(spec)
        from velocitas.report.walk_forward_html import render_walk_forward_html
        from velocitas.research.walk_forward import run_walk_forward

        with _progress(not json, "walking forward") as progress:
            result = run_walk_forward(
                spec, bars, space, in_sample=is_length, out_of_sample=oos_length,
                anchored=anchored, objective=objective, min_trades=min_trades,
                max_drawdown=limit, random_count=random, seed=seed, progress=progress,
            )  # fmt: skip
            if html_path is not None:
                write_html(html_path, render_walk_forward_html(result, spec))
    except VelocitasError as exc:
        fail_naming_option(exc)
    if json:
        emit_json(result.to_dict())
        return
    rows = []
    for fold in result.folds:
        outcome = fold.get("out_of_sample_result") or {}
        rows.append(
            {
                "fold": fold["index"],
                "OOS from": format_time(fold["out_of_sample"][0]),
                "params": fold["params"],
                f"IS {objective}": _short(fold["in_sample_objective"]),
                "OOS return": _short(outcome.get("total_return")),
                "OOS trades": outcome.get("trades"),
                "equity": display_number(outcome.get("final_equity")),
            }
        )
    kind = "anchored" if anchored else "rolling"
    table(f"walk-forward of {strategy} ({kind}, times UTC)", rows, no_wrap=["OOS from"])
    m = result.metrics
    table(
        "stitched out-of-sample",
        [{k: _short(m[k]) for k in ("total_return", "sharpe", "max_drawdown", "trade_count")}
         | {"final_equity": display_number(result.final_equity)}],
    )  # fmt: skip


backtest_app = backtest.app
backtest_app.command("sweep")(sweep)
backtest_app.command("walk-forward")(walk_forward)
