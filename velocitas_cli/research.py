"""`velocitas research`: research modes over stored bars (`tournament`: strategies x symbols,
walked forward, ranked out of sample, deflated and checked for overfitting; `regimes`: the
market regime at an instant or over a range; see docs/research.md). Each mode is its own
command function registered on `app`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import typer
from pydantic import ValidationError

from velocitas.errors import InvalidRequest, VelocitasError
from velocitas_cli.backtest_spec import ExecutionOptions, execution_options
from velocitas_cli.output import JsonOption, console, emit_json, table
from velocitas_cli.research_regimes import regimes

app = typer.Typer(
    help="Research modes over stored bars: tournaments, regimes.", no_args_is_help=True
)


@app.callback()
def research() -> None:
    # A group even while it holds one command, so `velocitas research tournament` reads so.
    pass


_OPTION_OF_FIELD = {
    "strategies": "--strategy",
    "symbols": "--symbol",
    "timeframes": "--timeframe",
    "start": "--start",
    "end": "--end",
    "folds": "--folds",
    "cscv_blocks": "--cscv-blocks",
    "dsr_threshold": "--dsr-threshold",
    "objective": "--objective",
    "execution": "execution options",
}


def _fail(error: VelocitasError) -> None:
    from velocitas_cli.backtest import fail_naming_option

    field = getattr(error, "field", None) or ""
    option = _OPTION_OF_FIELD.get(field.split("[")[0].split(".")[0])
    if option is not None and isinstance(error, InvalidRequest):
        error = InvalidRequest(f"{option} ({field}): {error}", field=field)
    fail_naming_option(error)


def _default_strategies() -> list[str]:
    from velocitas.strategies import registry

    usable = []
    for name in registry.names():
        try:
            registry.build(name, {})
        except InvalidRequest:
            continue  # needs parameters (ensemble members, a policy's model)
        usable.append(name)
    return usable


def _request(
    spec_file: Path | None,
    strategies: list[str],
    symbols: list[str],
    timeframes: list[str],
    start: str | None,
    end: str | None,
    options: dict[str, Any],
    execution: ExecutionOptions,
) -> dict[str, Any]:
    request: dict[str, Any] = {}
    if spec_file is not None:
        try:
            request = orjson.loads(spec_file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise InvalidRequest(f"cannot read {spec_file}: {exc}", field="spec") from None
        if not isinstance(request, dict):
            raise InvalidRequest(f"{spec_file} holds no JSON object", field="spec")
    if strategies:
        request["strategies"] = strategies
    request.setdefault("strategies", _default_strategies())
    if symbols:
        request["symbols"] = symbols
    if not request.get("symbols"):
        raise InvalidRequest("give at least one --symbol", field="symbols")
    if timeframes:
        request["timeframes"] = timeframes
    request.setdefault("timeframes", ["1h"])
    request |= {k: v for k, v in options.items() if v is not None}
    request["execution"] = request.get("execution", {}) | {
        k: v for k, v in execution.request().items() if k != "allow_short" or v
    }
    for name, text in (("start", start), ("end", end)):
        if text is not None:
            request[name] = text
    if "start" not in request or "end" not in request:
        request |= _stored_range(request, keep=("start" in request, "end" in request))
    return request


def _stored_range(request: dict[str, Any], keep: tuple[bool, bool]) -> dict[str, Any]:
    # The span every symbol and timeframe covers: the latest first bar to the earliest last.
    from velocitas.db.bars import stored_span
    from velocitas.domain.timeframe import Timeframe

    firsts, ends = [], []
    for index, symbol in enumerate(request["symbols"]):
        for text in request["timeframes"]:
            timeframe = Timeframe.parse(text)
            span = stored_span(symbol, timeframe)
            if span is None:
                raise InvalidRequest(
                    f"no {timeframe.value} bars of {symbol!r} stored", field=f"symbols[{index}]"
                )
            firsts.append(span[0])
            ends.append(timeframe.add(span[1], 1))
    out: dict[str, Any] = {}
    if not keep[0]:
        out["start"] = max(firsts)
    if not keep[1]:
        out["end"] = min(ends)
    return out


def _load(spec: Any) -> dict[tuple[str, str], Any]:
    from velocitas.db.bars import load_bars

    bars = {}
    for index, symbol in enumerate(spec.symbols):
        for timeframe in spec.timeframes:
            series = load_bars(symbol, timeframe, spec.start, spec.end)
            if len(series) == 0:
                raise InvalidRequest(
                    f"no {timeframe} bars of {symbol!r} stored in [{spec.start.isoformat()}, "
                    f"{spec.end.isoformat()})",
                    field=f"symbols[{index}]",
                )
            bars[(symbol, timeframe)] = series
    return bars


_Strategy = typer.Option(
    [], "--strategy", help="Strategy to enter (repeat); default: every one that runs on defaults."
)
_Symbol = typer.Option([], "--symbol", help="Symbol to play on (repeat).")
_Timeframe = typer.Option([], "--timeframe", help="Bar length (repeat); default 1h.")
_Start = typer.Option(None, "--start", help="First bar time; default: the span all symbols share.")
_End = typer.Option(None, "--end", help="End time, exclusive; default: the span all share.")
_Folds = typer.Option(None, "--folds", help="Walk-forward folds (default 5).")
_Anchored = typer.Option(False, "--anchored", help="Grow the in-sample window from --start.")
_Objective = typer.Option(None, "--objective", help="Out-of-sample ranking metric (sharpe).")
_Blocks = typer.Option(None, "--cscv-blocks", help="Even number of CSCV blocks (default 10).")
_Threshold = typer.Option(None, "--dsr-threshold", help="Deflated Sharpe to pass (0.95).")
_SpecFile = typer.Option(
    None, "--spec", help="A JSON file in the POST /tournaments body's shape; options override it."
)
_Top = typer.Option(20, "--top", help="Rows of the ranking to print.")


@execution_options
def tournament(
    strategy: list[str] = _Strategy, symbol: list[str] = _Symbol,
    timeframe: list[str] = _Timeframe, start: str | None = _Start, end: str | None = _End,
    folds: int | None = _Folds, anchored: bool = _Anchored, objective: str | None = _Objective,
    cscv_blocks: int | None = _Blocks, dsr_threshold: float | None = _Threshold,
    spec_file: Path | None = _SpecFile, top: int = _Top, json: bool = JsonOption,
    *, execution: ExecutionOptions,
) -> None:  # fmt: skip
    """Pit strategies against symbols: walk each forward, rank out of sample, deflate the
    Sharpe ratios for the trials, measure the probability of backtest overfitting."""
    from velocitas.research.tournament import execute
    from velocitas.research.tournament_spec import TournamentSpec
    from velocitas_cli.backtest_sweep import _progress

    options = {
        "folds": folds,
        "objective": objective,
        "cscv_blocks": cscv_blocks,
        "dsr_threshold": dsr_threshold,
        "anchored": anchored or None,
    }
    try:
        request = _request(spec_file, strategy, symbol, timeframe, start, end, options, execution)
        try:
            spec = TournamentSpec.model_validate(request)
        except ValidationError as exc:
            problem = exc.errors()[0]
            field = ".".join(str(part) for part in problem["loc"])
            raise InvalidRequest(problem["msg"], field=field) from None
        from velocitas.research.tournament_spec import validate

        validate(spec)
        bars = _load(spec)
        with _progress(not json, "tournament") as progress:
            report = execute(spec, bars, progress=progress)
    except VelocitasError as exc:
        _fail(exc)
        return
    if json:
        emit_json(report)
        return
    _print(report, top)


def _print(report: dict[str, Any], top: int) -> None:
    rows = [
        {
            "rank": e["rank"],
            "strategy": e["strategy"],
            "symbol": e["symbol"],
            "tf": e["timeframe"],
            f"OOS {report['objective']}": e["out_of_sample"].get(report["objective"]),
            "OOS return": e["out_of_sample"].get("total_return"),
            "IS": e["in_sample_objective"],
            "DSR": e["deflated_sharpe"]["value"],
            "pass": "yes" if e["deflated_sharpe"]["passes"] else "no",
        }
        for e in report["entries"][:top]
    ]
    table(f"tournament by out-of-sample {report['objective']}", rows)
    overfitting = report["overfitting"]
    if overfitting.get("pbo") is not None:
        console.print(
            f"PBO {overfitting['pbo']:.2f} over {overfitting['splits']} CSCV splits of "
            f"{report['trials']} trials; {len(report['failed'])} entries failed"
        )
    for item in report["recommendations"]:
        console.print(
            f"- [{item['kind']}] {item['text']}", highlight=False, markup=False, soft_wrap=True
        )


app.command("tournament")(tournament)
app.command("regimes")(regimes)
