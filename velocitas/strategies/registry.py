"""The strategy registry: names to classes, parameter validation, a JSON-ready catalogue.

    build("sma_cross", {"fast": 5, "slow": 20})   -> a ready SmaCross
    build("sma_cross", {"fast": 50, "slow": 20})  -> InvalidRequest(field="strategy.params.slow")
    build("nope", {})                             -> InvalidRequest(field="strategy.name")

`register` adds a user strategy (see docs/strategies.md, "Writing your own strategy"); strategies
that installed packages declare under the entry-point group `velocitas.strategies` are registered
on first use (`load_plugins`).
"""

from __future__ import annotations

import threading
import types
import typing
import warnings
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

from annotated_types import Ge, Le, MaxLen, MinLen
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from velocitas.errors import InvalidRequest
from velocitas.strategies.base import Strategy
from velocitas.strategies.crossover import EmaCross, MacdCross, SmaCross
from velocitas.strategies.ensemble import Ensemble
from velocitas.strategies.passive import BuyAndHold
from velocitas.strategies.reversion import BollingerReversion, RsiReversion
from velocitas.strategies.trend import DonchianBreakout, Momentum

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginWarning",
    "build",
    "describe",
    "get",
    "load_plugins",
    "names",
    "register",
    "unregister",
]

ENTRY_POINT_GROUP = "velocitas.strategies"
"""The entry-point group under which installed packages declare their strategy classes."""

S = TypeVar("S", bound=type[Strategy])

_strategies: dict[str, type[Strategy]] = {}
_plugin_failures: dict[str, str] = {}
_plugins_loaded = False
_plugins_loading = False
_plugin_lock = threading.RLock()  # the gateway validates specs on several threads


def register(cls: S) -> S:
    """Add a strategy class under its `name` (usable as a class decorator)."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier() or not name.islower():
        raise ValueError(f"{cls.__qualname__}.name must be a lower-case identifier, got {name!r}")
    if not getattr(cls, "description", ""):
        raise ValueError(f"{cls.__qualname__} needs a one-line description")
    if name in _strategies and _strategies[name] is not cls:
        raise ValueError(f"a strategy named {name!r} is already registered")
    _strategies[name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a strategy (tests and plug-in reloads); unknown names are ignored."""
    _strategies.pop(name, None)


def names() -> list[str]:
    """Registered strategy names, sorted."""
    _ensure_plugins()
    return sorted(_strategies)


def get(name: str) -> type[Strategy]:
    """The class registered as `name`; `InvalidRequest(field="strategy.name")` if none."""
    return _lookup(name, "strategy.name")


def _lookup(name: str, field: str) -> type[Strategy]:
    _ensure_plugins()
    try:
        return _strategies[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name from JSON
        broken = _plugin_failures.get(name) if isinstance(name, str) else None
        why = f" (the plugin {broken})" if broken else ""
        raise InvalidRequest(
            f"unknown strategy {name!r}{why}; choose one of {', '.join(names())}", field=field
        ) from None


class PluginWarning(UserWarning):
    """A strategy plugin (an entry point of `ENTRY_POINT_GROUP`) could not be registered."""


def _ensure_plugins() -> None:
    if _plugins_loaded:
        return
    with _plugin_lock:
        # _plugins_loading: this very thread is importing a plugin that uses the registry.
        if not _plugins_loaded and not _plugins_loading:
            load_plugins()


def load_plugins() -> dict[str, str]:
    """Register the strategy classes installed packages declare under `ENTRY_POINT_GROUP`.

    Runs by itself on first use of the registry; call it again after installing a package in a
    running process. A plugin that fails to import, is not a `Strategy` subclass or takes a
    name already registered is skipped with a `PluginWarning` naming the entry point and the
    reason (the built-ins always stay). Returns those failures: entry point name -> reason.
    """
    global _plugins_loaded, _plugins_loading
    with _plugin_lock:
        _plugins_loading = True
        try:
            _plugin_failures.clear()
            for point in entry_points(group=ENTRY_POINT_GROUP):
                _load_plugin(point)
        finally:
            _plugins_loading = False
            _plugins_loaded = True
        return dict(_plugin_failures)


def _load_plugin(point: EntryPoint) -> None:
    where = f"{point.name} = {point.value}"
    if point.dist is not None:
        where += f" (from {point.dist.name} {point.dist.version})"
    try:
        cls = point.load()
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise TypeError(f"{cls!r} is not a subclass of velocitas.strategies.Strategy")
        register(cls)
    except Exception as exc:  # any error in foreign code: report it, keep the registry
        reason = f"{type(exc).__name__}: {exc}"
        _plugin_failures[point.name] = f"{where} failed to load: {reason}"
        warnings.warn(
            f"strategy plugin {where} was not loaded: {reason}", PluginWarning, stacklevel=3
        )


def build(
    name: str, params: Mapping[str, Any] | None = None, *, field: str = "strategy"
) -> Strategy:
    """A strategy instance with validated parameters.

    Errors are `InvalidRequest` whose `field` is `"<field>.name"` for an unknown strategy and
    `"<field>.params.<param>"` for a bad or unknown parameter (a rule between parameters, such
    as fast < slow, names the later one); `"<field>.params"` when the parameters are not an
    object or a rule concerns them all. The message says what is wrong and what is allowed.
    """
    cls = _lookup(name, f"{field}.name")
    if params is not None and not isinstance(params, Mapping):
        raise InvalidRequest(
            f"{name} parameters must be an object of name: value", field=f"{field}.params"
        )
    try:
        validated = cls.Params.model_validate(dict(params or {}))
    except ValidationError as exc:
        raise _invalid(name, cls, exc, f"{field}.params") from None
    return cls(validated)


def _invalid(name: str, cls: type[Strategy], exc: ValidationError, prefix: str) -> InvalidRequest:
    error = exc.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in error["loc"])
    where = f"{prefix}.{loc}" if loc else prefix
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(cls.Params.model_fields) or "none"
        reason = f"unknown parameter {loc!r} for {name} (parameters: {allowed})"
    elif error["type"] == "value_error":  # our own rules: the message names the values
        reason = f"{name}: {error['msg'].removeprefix('Value error, ')}"
    else:
        reason = f"{name}: {loc + ': ' if loc else ''}{error['msg']}"
        if loc:
            reason += f" (got {error['input']!r})"
    more = exc.error_count() - 1
    if more:
        reason += f"; and {more} more problem(s)"
    return InvalidRequest(reason, field=where)


def describe() -> list[dict[str, Any]]:
    """Every registered strategy as JSON-ready data, sorted by name.

    Each entry: `name`, `description`, `params` (name -> `type`, `default`, `required`,
    `min`, `max`, `description`; bounds from `Field(ge=, le=)` (or list lengths), inclusive,
    None when absent) and `constraints` (rules between parameters, as text).
    """
    return [_describe(cls) for cls in (get(n) for n in names())]


def _describe(cls: type[Strategy]) -> dict[str, Any]:
    return {
        "name": cls.name,
        "description": cls.description,
        "params": {name: _describe_field(info) for name, info in cls.Params.model_fields.items()},
        "constraints": list(cls.Params.constraints),
    }


def _describe_field(info: FieldInfo) -> dict[str, Any]:
    low: float | None = None
    high: float | None = None
    for bound in info.metadata:
        if isinstance(bound, Ge):
            low = bound.ge  # type: ignore[assignment]
        elif isinstance(bound, Le):
            high = bound.le  # type: ignore[assignment]
        elif isinstance(bound, MinLen):
            low = bound.min_length
        elif isinstance(bound, MaxLen):
            high = bound.max_length
    default: Any = None
    if info.default is not PydanticUndefined:
        default = info.default
    elif info.default_factory is not None:
        default = info.default_factory()  # type: ignore[call-arg]
    if isinstance(default, BaseModel):
        default = default.model_dump()
    return {
        "type": _type_name(info.annotation),
        "default": default,
        "required": info.is_required(),
        "min": low,
        "max": high,
        "description": info.description or "",
    }


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    if annotation is float:
        return "number"
    if annotation is str:
        return "string"
    if origin is list:
        return "array"
    if origin is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return "object"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    return str(annotation)


for _cls in (
    BollingerReversion,
    BuyAndHold,
    DonchianBreakout,
    EmaCross,
    Ensemble,
    MacdCross,
    Momentum,
    RsiReversion,
    SmaCross,
):
    register(_cls)
