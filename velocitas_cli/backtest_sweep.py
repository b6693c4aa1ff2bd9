"""`velocitas backtest sweep` and `velocitas backtest walk-forward` (attached to the backtest
group in `velocitas_cli.main`): rank a strategy's parameter grid, or walk it forward, on stored
bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from velocitas.db.bars import load_bars
from velocitas.engine.spec import BacktestSpec
from velocitas.errors import InvalidRequest, VelocitasError
from velocitas.research.grid import grid_combinations, parse_range, random_combinations
from velocitas.research.heatmap import write_heatmap
from velocitas.research.objectives import OBJECTIVES
from velocitas.research.sweeps import run_sweep
from velocitas.research.walk_forward import run_walk_forward
from velocitas.strategies import registry
from velocitas.timeparse import parse_duration, parse_instant
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


def _pairs(items: list[str], field: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InvalidRequest(f"{item!r}: write NAME=VALUE", field=field)
        pairs.append((name.strip(), value.strip()))
    return pairs


def _fixed(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in _pairs(items, "param"):
        lowered = value.lower()
        if lowered in ("true", "false"):
            out[name] = lowered == "true"
        else:
            (out[name],) = parse_range(value, field=f"param.{name}")
    return out


def _space(items: list[str]) -> dict[str, list[Any]]:
    if not items:
        raise InvalidRequest("give at least one --grid NAME=START:STOP[:STEP]", field="grid")
    space: dict[str, list[Any]] = {}
    for name, value in _pairs(items, "grid"):
        if value.lower() in ("true,false", "false,true"):
            space[name] = [False, True]
        else:
            space[name] = parse_range(value, field=f"grid.{name}")
    return space


def _spec(
    symbol: str, timeframe: str, start: str, end: str, strategy: str, params: dict[str, Any],
    cash: str, fee: str, slippage_bps: str, allow_short: bool,
) -> BacktestSpec:  # fmt: skip
    registry.get(strategy)  # unknown strategy: InvalidRequest naming it
    try:
        return BacktestSpec.model_validate(
            {
                "symbol": symbol,
                "strategy": {"name": strategy, "params": params},
                "timeframe": timeframe,
                "start": parse_instant(start, field="start"),
                "end": parse_instant(end, field="end"),
                "initial_cash": cash,
                "fees": {"rate": fee},
                "slippage_bps": slippage_bps,
                "allow_short": allow_short,
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "spec"
        raise InvalidRequest(f"{where}: {first['msg']}", field=where) from None


@contextmanager
def _progress(show: bool, label: str) -> Iterator[Callable[[int, int], None]]:
    if not show:
        yield lambda done, total: None
        return
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


_Symbol = typer.Option(..., "--symbol", help="Symbol of the stored bars.")
_Timeframe = typer.Option(..., "--timeframe", help="Bar length, e.g. 1m, 1h.")
_Start = typer.Option(..., "--start", help="First bar's time (ISO; UTC when no offset).")
_End = typer.Option(..., "--end", help="End of the range, exclusive.")
_Strategy = typer.Option("sma_cross", "--strategy", help="Registered strategy name.")
_Grid = typer.Option(
    [], "--grid", help="NAME=START:STOP[:STEP] or NAME=A,B,C (repeat per parameter)."
)
_Param = typer.Option([], "--param", help="NAME=VALUE held fixed (repeatable).")
_Random = typer.Option(None, "--random", help="Draw N grid points at random instead.")
_Seed = typer.Option(0, "--seed", help="Seed of the random draw.")
_Objective = typer.Option("sharpe", "--objective", help=_OBJECTIVE_HELP)
_MinTrades = typer.Option(0, "--min-trades", help="Exclude runs with fewer trades.")
_MaxDrawdown = typer.Option(None, "--max-drawdown", help="Exclude deeper runs, e.g. 30%.")
_Cash = typer.Option("10000", "--cash", help="Initial cash (decimal).")
_Fee = typer.Option("0.001", "--fee", help="Proportional fee per order (0.001 = 0.1%).")
_Slippage = typer.Option("0", "--slippage-bps", help="Slippage in basis points.")
_Short = typer.Option(False, "--allow-short", help="Let the account hold short positions.")
_Heatmap = typer.Option(None, "--heatmap", help="Write the heatmap HTML here.")
_Top = typer.Option(20, "--top", help="Rows of the ranked table to print.")
_InSample = typer.Option(..., "--in-sample", help="In-sample length: 90m, 12h, 30d, 2w, 6mo, 2y.")
_OutOfSample = typer.Option(..., "--out-of-sample", help="Out-of-sample length, e.g. 7d or 1mo.")
_Anchored = typer.Option(False, "--anchored", help="Grow the in-sample window from --start.")


def sweep(
    symbol: str = _Symbol, timeframe: str = _Timeframe, start: str = _Start, end: str = _End,
    strategy: str = _Strategy, grid: list[str] = _Grid, param: list[str] = _Param,
    random: int | None = _Random, seed: int = _Seed, objective: str = _Objective,
    min_trades: int = _MinTrades, max_drawdown: str | None = _MaxDrawdown,
    heatmap: Path | None = _Heatmap, top: int = _Top,
    cash: str = _Cash, fee: str = _Fee, slippage_bps: str = _Slippage, allow_short: bool = _Short,
    json: bool = JsonOption,
) -> None:  # fmt: skip
    """Rank STRATEGY's parameter grid (or a random draw of it) by an objective."""
    try:
        fixed, space = _fixed(param), _space(grid)
        spec = _spec(symbol, timeframe, start, end, strategy, fixed, cash, fee, slippage_bps,
                     allow_short)  # fmt: skip
        if objective not in OBJECTIVES:
            raise InvalidRequest(f"unknown objective {objective!r}", field="objective")
        limit = None if max_drawdown is None else _fraction(max_drawdown, "max_drawdown")
        if random is None:
            combos, skipped = grid_combinations(strategy, space)
        else:
            combos, skipped = random_combinations(strategy, space, random, seed)
        if not combos:
            raise InvalidRequest("no combination of the grid is valid", field="grid")
        bars = _load(spec)
        with _progress(not json, "sweeping") as progress:
            result = run_sweep(
                spec, bars, combos, objective=objective, min_trades=min_trades,
                max_drawdown=limit, progress=progress, skipped=skipped,
            )  # fmt: skip
    except VelocitasError as exc:
        fail(exc)
    heat = result.heatmap()
    if heatmap is not None:
        if heat is None:
            fail(InvalidRequest("a heatmap needs exactly two varying parameters", field="heatmap"))
        write_heatmap(heat, heatmap, title=f"{strategy} on {symbol} {timeframe}")
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


def walk_forward(
    symbol: str = _Symbol, timeframe: str = _Timeframe, start: str = _Start, end: str = _End,
    strategy: str = _Strategy, grid: list[str] = _Grid, param: list[str] = _Param,
    in_sample: str = _InSample, out_of_sample: str = _OutOfSample, anchored: bool = _Anchored,
    random: int | None = _Random, seed: int = _Seed, objective: str = _Objective,
    min_trades: int = _MinTrades, max_drawdown: str | None = _MaxDrawdown,
    cash: str = _Cash, fee: str = _Fee, slippage_bps: str = _Slippage, allow_short: bool = _Short,
    json: bool = JsonOption,
) -> None:  # fmt: skip
    """Optimise on each in-sample window, trade the best out of sample, stitch the results."""
    try:
        fixed, space = _fixed(param), _space(grid)
        spec = _spec(symbol, timeframe, start, end, strategy, fixed, cash, fee, slippage_bps,
                     allow_short)  # fmt: skip
        if objective not in OBJECTIVES:
            raise InvalidRequest(f"unknown objective {objective!r}", field="objective")
        limit = None if max_drawdown is None else _fraction(max_drawdown, "max_drawdown")
        is_length = parse_duration(in_sample, field="in_sample")
        oos_length = parse_duration(out_of_sample, field="out_of_sample")
        bars = _load(spec)
        with _progress(not json, "walking forward") as progress:
            result = run_walk_forward(
                spec, bars, space, in_sample=is_length, out_of_sample=oos_length,
                anchored=anchored, objective=objective, min_trades=min_trades,
                max_drawdown=limit, random_count=random, seed=seed, progress=progress,
            )  # fmt: skip
    except VelocitasError as exc:
        fail(exc)
    if json:
        emit_json(result.to_dict())
        return
    rows = []
    for fold in result.folds:
        outcome = fold.get("out_of_sample_result") or {}
        rows.append(
            {
                "fold": fold["index"],
                "out of sample": " → ".join(fold["out_of_sample"]),
                "params": fold["params"],
                f"IS {objective}": _short(fold["in_sample_objective"]),
                "OOS return": _short(outcome.get("total_return")),
                "OOS trades": outcome.get("trades"),
                "equity": outcome.get("final_equity"),
            }
        )
    table(f"walk-forward of {strategy} ({'anchored' if anchored else 'rolling'})", rows)
    m = result.metrics
    table(
        "stitched out-of-sample",
        [{k: _short(m[k]) for k in ("total_return", "sharpe", "max_drawdown", "trade_count")}
         | {"final_equity": str(result.final_equity)}],
    )  # fmt: skip
