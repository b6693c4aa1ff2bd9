"""Command-line options to a `BacktestSpec`: one dialect for every command that runs the engine.

`backtest run`, `backtest sweep`, `backtest walk-forward` and `lab train` take the same
execution options (`ExecutionOptions`, added to a command by `execution_options`) and build
their spec through `command_spec` (or `execution_spec` for the lab, which trades its own
windows). Defaults are the spec model's: an option not given leaves its field unset.

Rates take `%` or `bps`, and a bare number is a fraction everywhere (`--fee 0.002` = `0.2%`,
`--slippage 0.0002` = `2bps`). Times without an offset are UTC, as over REST. `--start`/`--end`
left out mean the stored series' first/last bar. Every error is an `InvalidRequest` naming the
option (and the spec field) at fault; the CLI exits 2 on it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, get_type_hints

import numpy.typing as npt
import orjson
import typer
from pydantic import ValidationError

from velocitas.db.bars import stored_span
from velocitas.domain.bars import BarArrays
from velocitas.domain.timeframe import Timeframe
from velocitas.engine import BacktestSpec
from velocitas.errors import InvalidRequest
from velocitas.strategies import registry
from velocitas.strategies.policy import PolicyResolver, RegisteredModel, register_policy_strategy
from velocitas.timeparse import parse_instant

__all__ = [
    "OPTION_OF",
    "EndOption",
    "ExecutionOptions",
    "ParamOption",
    "StartOption",
    "StrategyOption",
    "SymbolOption",
    "TimeframeOption",
    "build_spec",
    "command_spec",
    "execution_options",
    "execution_spec",
    "option_for",
    "parse_bps",
    "parse_leg",
    "parse_number",
    "parse_params",
    "parse_rate",
    "parse_risk",
    "parse_sizing",
    "parse_stop",
    "register_cli_strategies",
    "spec_request",
]

# Where a spec field's error comes from on the command line.
OPTION_OF = {
    "timeframe": "--timeframe",
    "start": "--start",
    "end": "--end",
    "initial_cash": "--cash",
    "fees.rate": "--fee",
    "fees.fixed": "--fixed-fee",
    "slippage_bps": "--slippage",
    "fill": "--fill",
    "sizing.value": "--size/--quantity/--cash-per-trade",
    "sizing.lot_size": "--lot",
    "stops.stop_loss": "--stop-loss",
    "stops.take_profit": "--take-profit",
    "stops.trailing_stop": "--trailing-stop",
    "stops.intrabar_path": "--path",
    "risk.max_position": "--max-position",
    "risk.max_daily_loss": "--max-daily-loss",
    "risk.max_drawdown": "--max-drawdown",
    "risk.cooldown_losses": "--cooldown",
    "risk.cooldown_bars": "--cooldown",
}


_Command = TypeVar("_Command", bound=Callable[..., Any])

NAIVE_UTC = "no offset: UTC"

# The options naming what to run, shared by run, sweep and walk-forward. Module-level: option
# objects with a mutable default (ruff B008).
SymbolOption = typer.Option(None, "--symbol", help="Symbol of the (first) leg.")
StrategyOption = typer.Option(None, "--strategy", help="Strategy of the (first) leg.")
ParamOption = typer.Option([], "--param", help="Strategy parameter NAME=VALUE (repeat).")
TimeframeOption = typer.Option(..., "--timeframe", help="Bar length, e.g. 1m, 1h, 1d.")
StartOption = typer.Option(
    None, "--start", help=f"First bar time, ISO-8601 ({NAIVE_UTC}); default: the first stored."
)
EndOption = typer.Option(
    None,
    "--end",
    help=f"End time, exclusive, ISO-8601 ({NAIVE_UTC}); default: after the last stored bar.",
)


@dataclass(frozen=True, slots=True)
class ExecutionOptions:
    """How the engine executes, as typed on the command line: every command that runs the
    engine takes these, with these spellings (see `execution_options`). None means "not
    given": the spec model's default applies."""

    cash: str | None = None
    fee: str | None = None
    fixed_fee: str | None = None
    slippage: str | None = None
    fill: str | None = None
    size: str | None = None
    quantity: str | None = None
    cash_per_trade: str | None = None
    lot: str | None = None
    stop_loss: str | None = None
    take_profit: str | None = None
    trailing_stop: str | None = None
    atr_period: int = 14
    path: str | None = None
    allow_short: bool = False
    max_position: str | None = None
    max_daily_loss: str | None = None
    max_drawdown: str | None = None
    cooldown: str | None = None
    calendar: str | None = None
    risk_free: str | None = None

    def request(self) -> dict[str, Any]:
        """The spec fields these options set, parsed (`InvalidRequest` naming the option)."""
        request: dict[str, Any] = {"allow_short": self.allow_short}
        if self.cash is not None:
            request["initial_cash"] = parse_number(self.cash, "--cash")
        fees = {}
        if self.fee is not None:
            fees["rate"] = parse_rate(self.fee, "--fee")
        if self.fixed_fee is not None:
            fees["fixed"] = parse_number(self.fixed_fee, "--fixed-fee")
        if fees:
            request["fees"] = fees
        if self.slippage is not None:
            request["slippage_bps"] = parse_bps(self.slippage, "--slippage")
        if self.fill is not None:
            request["fill"] = self.fill.strip().lower().replace("-", "_")
        sizing = parse_sizing(self.size, self.quantity, self.cash_per_trade, self.lot)
        if sizing:
            request["sizing"] = sizing
        stops: dict[str, Any] = {
            key: parse_stop(text, option, self.atr_period)
            for key, text, option in (
                ("stop_loss", self.stop_loss, "--stop-loss"),
                ("take_profit", self.take_profit, "--take-profit"),
                ("trailing_stop", self.trailing_stop, "--trailing-stop"),
            )
            if text is not None
        }
        if self.path is not None:
            stops["intrabar_path"] = self.path
        if stops:
            request["stops"] = stops
        risk = parse_risk(self.max_position, self.max_daily_loss, self.max_drawdown, self.cooldown)
        if risk:
            request["risk"] = risk
        if self.calendar is not None:
            request["calendar"] = self.calendar.strip()
        if self.risk_free is not None:
            request["risk_free_rate"] = parse_rate(self.risk_free, "--risk-free")
        return request


_EXECUTION_OPTIONS: dict[str, Any] = {
    "cash": typer.Option(None, "--cash", help="Initial cash; default 10000."),
    "fee": typer.Option(None, "--fee", help="Fee rate per order: 0.1%, 10bps, 0.001."),
    "fixed_fee": typer.Option(None, "--fixed-fee", help="Fixed fee per order (cash)."),
    "slippage": typer.Option(None, "--slippage", help="Slippage per fill: 2bps, 0.02%, 0.0002."),
    "fill": typer.Option(None, "--fill", help="next-open (default) or same-close."),
    "size": typer.Option(None, "--size", help="Fraction of equity per entry: 50%."),
    "quantity": typer.Option(None, "--quantity", help="Fixed units per entry."),
    "cash_per_trade": typer.Option(None, "--cash-per-trade", help="Fixed notional per entry."),
    "lot": typer.Option(None, "--lot", help="Lot size quantities round down to."),
    "stop_loss": typer.Option(None, "--stop-loss", help="2% or 3atr."),
    "take_profit": typer.Option(None, "--take-profit", help="4% or 6atr."),
    "trailing_stop": typer.Option(None, "--trailing-stop", "--trailing", help="1.5% or 2atr."),
    "atr_period": typer.Option(14, "--atr-period", min=1, help="ATR period of ATR stops."),
    "path": typer.Option(None, "--path", help="Path: pessimistic, ohlc, adaptive, bridge."),
    "allow_short": typer.Option(False, "--allow-short", help="Take short positions."),
    "max_position": typer.Option(None, "--max-position", help="Largest entry, e.g. 50%."),
    "max_daily_loss": typer.Option(None, "--max-daily-loss", help="Daily loss halt, e.g. 5%."),
    "max_drawdown": typer.Option(None, "--max-drawdown", help="Kill switch, e.g. 20%."),
    "cooldown": typer.Option(None, "--cooldown", help="LOSSES:BARS, e.g. 3:60."),
    "calendar": typer.Option(
        None, "--calendar", help="crypto, fx or an exchange (XNYS); default: from the bars."
    ),
    "risk_free": typer.Option(None, "--risk-free", help="Annual risk-free rate: 4%, 0.04."),
}


def execution_options(command: _Command) -> _Command:
    """Add the `ExecutionOptions` to a typer command, which receives them as its keyword
    argument `execution`: one declaration, so every command spells them alike."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name != "execution"]
    types = get_type_hints(ExecutionOptions)
    added = [
        inspect.Parameter(
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=_EXECUTION_OPTIONS[field.name],
            annotation=types[field.name],
        )
        for field in fields(ExecutionOptions)
    ]
    names = [field.name for field in fields(ExecutionOptions)]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in names if name in kwargs}
        return command(*args, execution=ExecutionOptions(**given), **kwargs)

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own), *added]
    )
    wrapper.__annotations__ = {}  # typer reads the types off the signature above
    return wrapper  # type: ignore[return-value]


def register_cli_strategies() -> None:
    """Let this process run registered RL policies (`--strategy policy --param model=V`), as
    the worker does: the policy strategy reads the model registry and the analyst's sentiment."""
    register_policy_strategy(PolicyResolver(model=_registered_model, sentiment=_bar_sentiment))


# The registry's models (SQLAlchemy) are imported only when a policy is run.


def _registered_model(version: str) -> RegisteredModel:
    from velocitas.db.models_registry import get_model

    return get_model(version)


def _bar_sentiment(bars: BarArrays) -> npt.ArrayLike:
    from velocitas.db.sentiment import bar_sentiment

    return bar_sentiment(bars)


def command_spec(
    *,
    symbol: str | None,
    strategy: str | None,
    params: Sequence[str],
    timeframe: str,
    start: str | None,
    end: str | None,
    execution: ExecutionOptions,
    legs: Sequence[str] = (),
) -> BacktestSpec:
    """The spec a command's options describe, with every strategy's parameters checked; an
    open `start`/`end` reads the stored series' first/last bar (so it queries the database)."""
    register_cli_strategies()
    request = spec_request(
        symbol=symbol,
        strategy=strategy,
        params=params,
        legs=legs,
        timeframe=timeframe,
        start=start,
        end=end,
        allow_short=execution.allow_short,
    )
    request |= execution.request()
    for index, leg in enumerate(request["legs"]):  # refuse bad parameters before any I/O
        strategy_ref = leg["strategy"]
        registry.build(
            strategy_ref["name"], strategy_ref["params"], field=f"legs[{index}].strategy"
        )
    if request["start"] is None or request["end"] is None:
        request |= _stored_range(request)
    return build_spec(request)


def execution_spec(symbol: str, timeframe: str, execution: ExecutionOptions) -> BacktestSpec:
    """A one-leg spec of `symbol` on `timeframe` with the `policy` strategy and the whole
    time axis: how `lab train` executes, the windows being its own."""
    request = {
        "symbol": symbol,
        "strategy": {"name": "policy"},
        "timeframe": timeframe,
        "start": datetime(1970, 1, 1),
        "end": datetime(2100, 1, 1),
    }
    return build_spec(request | execution.request())


def _stored_range(request: dict[str, Any]) -> dict[str, datetime]:
    try:
        timeframe = Timeframe.parse(request["timeframe"])
    except ValueError as exc:
        raise InvalidRequest(f"--timeframe: {exc}", field="timeframe") from None
    spans = []
    for index, leg in enumerate(request["legs"]):
        span = stored_span(leg["symbol"], timeframe)
        if span is None:
            raise InvalidRequest(
                f"no {timeframe.value} bars of {leg['symbol']!r} stored; "
                "`velocitas data list` shows what is",
                field=f"legs[{index}].symbol",
            )
        spans.append(span)
    first = min(span[0] for span in spans)
    # End is exclusive: one bar past the last one takes it in.
    after_last = max(span[1] for span in spans) + timedelta(seconds=timeframe.seconds)
    return {
        "start": request["start"] or first,
        "end": request["end"] or after_last,
    }


def spec_request(
    *,
    symbol: str | None,
    strategy: str | None,
    params: Sequence[str],
    legs: Sequence[str],
    timeframe: str,
    start: str | None,
    end: str | None,
    allow_short: bool,
) -> dict[str, Any]:
    """The legs, timeframe and range of a spec; `start`/`end` None when not given."""
    spec_legs: list[dict[str, Any]] = []
    if symbol is not None or strategy is not None or params:
        if symbol is None:
            raise InvalidRequest("--symbol is required with --strategy/--param", field="symbol")
        if strategy is None:
            raise InvalidRequest("--strategy is required with --symbol", field="strategy")
        spec_legs.append(_leg(symbol, strategy, parse_params(params, "--param"), allow_short))
    for text in legs:
        spec_legs.append(parse_leg(text, allow_short))
    if not spec_legs:
        raise InvalidRequest("give --symbol and --strategy, or at least one --leg", field="legs")
    first = None if start is None else parse_instant(start, field="--start")
    until = None if end is None else parse_instant(end, field="--end")
    if first is not None and until is not None and until <= first:
        raise InvalidRequest(
            f"--end {end} must be after --start {start} (the range is [start, end))", field="end"
        )
    return {
        "legs": spec_legs,
        "timeframe": timeframe,
        "start": first,
        "end": until,
        "allow_short": allow_short,
    }


def _leg(symbol: str, strategy: str, params: dict[str, Any], allow_short: bool) -> dict[str, Any]:
    # --allow-short means "take shorts": it also turns on a strategy's own allow_short
    # parameter unless the user set it, else a long-only strategy would never short.
    if allow_short and "allow_short" not in params:
        declared = (
            registry.get(strategy).Params.model_fields if strategy in registry.names() else {}
        )
        if "allow_short" in declared:
            params = params | {"allow_short": True}
    return {"symbol": symbol, "strategy": {"name": strategy, "params": params}}


def parse_leg(text: str, allow_short: bool) -> dict[str, Any]:
    parts = text.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise InvalidRequest(
            f"--leg {text!r}: expected SYMBOL:STRATEGY or SYMBOL:STRATEGY:k=v,k=v", field="leg"
        )
    pairs = [p for p in parts[2].split(",") if p] if len(parts) == 3 else []
    return _leg(parts[0], parts[1], parse_params(pairs, f"--leg {text}"), allow_short)


def parse_params(pairs: Sequence[str], option: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidRequest(f"{option} {pair!r}: expected NAME=VALUE", field="param")
        params[name.strip()] = _value(raw.strip())
    return params


def _value(raw: str) -> Any:
    """JSON when it parses (10, 0.5, true, [..]), else the text itself."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def parse_number(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace("_", ""))
    except InvalidOperation:
        raise InvalidRequest(f"{option} {text!r} is not a number", field=option) from None
    if not value.is_finite():
        raise InvalidRequest(f"{option} {text!r} is not a finite number", field=option)
    return value


def parse_rate(text: str, option: str) -> Decimal:
    """A fraction: `2%` -> 0.02, `15bps` -> 0.0015, `0.02` -> 0.02."""
    stripped = text.strip().lower()
    if stripped.endswith("%"):
        return parse_number(stripped[:-1], option) / 100
    if stripped.endswith("bps"):
        return parse_number(stripped[:-3], option) / 10_000
    return parse_number(stripped, option)


def parse_bps(text: str, option: str) -> Decimal:
    """Basis points of a rate written as `parse_rate` reads it: `2bps`, `0.02%`, `0.0002` -> 2."""
    stripped = text.strip().lower()
    # scaleb shifts the exponent: 0.0002 -> 2, not 2.0000.
    if stripped.endswith("%"):
        return parse_number(stripped[:-1], option).scaleb(2)
    if stripped.endswith("bps"):
        return parse_number(stripped[:-3], option)
    return parse_number(stripped, option).scaleb(4)


def parse_stop(text: str | None, option: str, atr_period: int) -> dict[str, Any] | None:
    if text is None:
        return None
    stripped = text.strip().lower()
    if stripped.endswith("atr"):
        return {
            "kind": "atr",
            "value": parse_number(stripped[:-3], option),
            "atr_period": atr_period,
        }
    return {"kind": "percent", "value": parse_rate(stripped, option)}


def parse_sizing(
    size: str | None, quantity: str | None, cash_per_trade: str | None, lot: str | None
) -> dict[str, Any]:
    given = [
        (mode, text, option)
        for mode, text, option in (
            ("fraction_of_equity", size, "--size"),
            ("fixed_quantity", quantity, "--quantity"),
            ("fixed_cash", cash_per_trade, "--cash-per-trade"),
        )
        if text is not None
    ]
    if len(given) > 1:
        raise InvalidRequest(
            "give only one of --size, --quantity, --cash-per-trade", field="sizing.mode"
        )
    sizing: dict[str, Any] = {}
    if given:
        mode, text, option = given[0]
        assert text is not None
        value = (
            parse_rate(text, option) if mode == "fraction_of_equity" else parse_number(text, option)
        )
        sizing = {"mode": mode, "value": value}
    if lot is not None:
        sizing["lot_size"] = parse_number(lot, "--lot")
    return sizing


def parse_risk(
    max_position: str | None,
    max_daily_loss: str | None,
    max_drawdown: str | None,
    cooldown: str | None,
) -> dict[str, Any]:
    risk: dict[str, Any] = {}
    for key, text, option in (
        ("max_position", max_position, "--max-position"),
        ("max_daily_loss", max_daily_loss, "--max-daily-loss"),
        ("max_drawdown", max_drawdown, "--max-drawdown"),
    ):
        if text is not None:
            risk[key] = parse_rate(text, option)
    if cooldown is not None:
        losses, sep, bars = cooldown.partition(":")
        if not sep or not losses.strip().isdigit() or not bars.strip().isdigit():
            raise InvalidRequest(
                f"--cooldown {cooldown!r}: expected LOSSES:BARS, e.g. 3:60", field="--cooldown"
            )
        risk |= {"cooldown_losses": int(losses), "cooldown_bars": int(bars)}
    return risk


def build_spec(request: dict[str, Any]) -> BacktestSpec:
    """`BacktestSpec` of a request; a refusal becomes an `InvalidRequest` naming the option."""
    try:
        return BacktestSpec.model_validate(request)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        loc = ".".join(str(part) for part in error["loc"])
        option = option_for(loc)
        reason = error["msg"].removeprefix("Value error, ")
        if error["loc"] and error["type"] != "value_error":
            reason += f" (got {error['input']!r})"
        where = f"{option} ({loc})" if option and loc else option or loc or "spec"
        raise InvalidRequest(f"{where}: {reason}", field=loc or None) from None


def option_for(loc: str) -> str | None:
    for field, option in OPTION_OF.items():
        if loc == field or loc.startswith(field + "."):
            return option
    return None
