"""Command-line options to a `BacktestSpec`: rates with `%`/`bps`, stops, legs, parameters.

Shared by every `velocitas backtest` command that takes a spec. Rates take `%` or `bps`; a bare
number is the spec field's own unit (a fraction, or bps for slippage). Every error is an
`InvalidRequest` naming the option (and the spec field) at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from pydantic import ValidationError

from velocitas.engine import BacktestSpec
from velocitas.errors import InvalidRequest
from velocitas.strategies import registry
from velocitas.timeparse import parse_instant

__all__ = [
    "OPTION_OF",
    "build_spec",
    "option_for",
    "parse_bps",
    "parse_leg",
    "parse_number",
    "parse_params",
    "parse_rate",
    "parse_risk",
    "parse_sizing",
    "parse_stop",
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


def spec_request(
    *,
    symbol: str | None,
    strategy: str | None,
    params: Sequence[str],
    legs: Sequence[str],
    timeframe: str,
    start: str,
    end: str,
    allow_short: bool,
) -> dict[str, Any]:
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
    first, until = parse_instant(start, field="--start"), parse_instant(end, field="--end")
    if until <= first:
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
    """Basis points: `2bps` -> 2, `0.02%` -> 2, `2` -> 2."""
    stripped = text.strip().lower()
    if stripped.endswith("%"):
        return parse_number(stripped[:-1], option) * 100
    return parse_number(stripped.removesuffix("bps"), option)


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
