"""The parameter sets of a sweep: ranges as text, a strategy's declared bounds, the full grid,
or a seeded random draw from the parameter space. The one grid of local sweeps, walk-forwards,
the CLI and the REST API (`velocitas.research.sweeps.expand` walks `grid_points` too).

A space maps each parameter to the values to try: a list (grid points, or the choices a random
draw picks from) or, for random search, a `Span`: an interval the draw samples uniformly by the
parameter's declared type (any integer of it for an integer parameter, any number for a
float one), so a random search is not limited to grid points.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from velocitas.errors import InvalidRequest
from velocitas.strategies import registry

__all__ = [
    "Space",
    "Span",
    "declared_span",
    "grid_combinations",
    "grid_points",
    "parse_range",
    "parse_space",
    "random_combinations",
]

Space = Mapping[str, "Sequence[Any] | Span"]
"""A parameter space: each name to its values, or (random search) to a `Span`."""
_FLOAT_DIGITS = 6  # a drawn float is rounded to this many decimals (readable, reproducible)
_DRAWS_PER_COMBINATION = 100  # attempts per wanted combination before a draw gives up


@dataclass(frozen=True)
class Span:
    """The interval [low, high] a random search samples one parameter from (both ends in)."""

    low: float
    high: float


def parse_range(text: str, *, field: str = "grid") -> list[int | float]:
    """`"5:50:5"` → [5, 10, …, 50] (inclusive), `"3,7,9"` → [3, 7, 9], `"12"` → [12].

    Integers stay integers; a range with an empty or backward span is refused.
    """

    def number(part: str) -> int | float:
        try:
            return int(part)
        except ValueError:
            try:
                value = float(part)
            except ValueError:
                raise InvalidRequest(f"{part!r} is not a number", field=field) from None
            if not math.isfinite(value):
                raise InvalidRequest(f"{part!r} is not a finite number", field=field) from None
            return value

    text = text.strip()
    if ":" not in text:
        values = [number(p.strip()) for p in text.split(",") if p.strip()]
        if not values:
            raise InvalidRequest("the range lists no values", field=field)
        return values
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise InvalidRequest(f"{text!r}: write start:stop or start:stop:step", field=field)
    start, stop = number(parts[0]), number(parts[1])
    step = number(parts[2]) if len(parts) == 3 else 1
    if step <= 0:
        raise InvalidRequest(f"{text!r}: the step must be positive", field=field)
    if stop < start:
        raise InvalidRequest(f"{text!r} is an empty range (stop below start)", field=field)
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > 100_000:
        raise InvalidRequest(f"{text!r} has {count} values; at most 100000", field=field)
    if all(isinstance(v, int) for v in (start, stop, step)):
        return [int(start + i * step) for i in range(count)]
    return [round(start + i * step, 12) for i in range(count)]


def parse_space(text: str, *, field: str = "grid") -> list[int | float] | Span | None:
    """A random search's values of one parameter: `"5:50"` (no step) is the interval `Span(5,
    50)`, `"*"` (None here) the parameter's declared bounds, anything else `parse_range`'s list
    (`"5:50:5"`: those grid points; `"3,7,9"`: those values)."""
    text = text.strip()
    if text == "*":
        return None
    parts = text.split(":")
    if len(parts) != 2:
        return parse_range(text, field=field)
    low, high = parse_range(parts[0], field=field), parse_range(parts[1], field=field)
    if len(low) != 1 or len(high) != 1:
        raise InvalidRequest(f"{text!r}: write start:stop or start:stop:step", field=field)
    if high[0] < low[0]:
        raise InvalidRequest(f"{text!r} is an empty range (stop below start)", field=field)
    return Span(low[0], high[0])


def declared_span(strategy: str, name: str) -> list[Any] | Span:
    """The declared range of `strategy`'s parameter `name`: a `Span` of its bounds for a
    number, both values for a boolean. Refused for a parameter without both bounds."""
    info = _declared(strategy, name, f"grid.{name}")
    if info["type"] == "boolean":
        return [False, True]
    if info["type"] not in ("integer", "number") or info["min"] is None or info["max"] is None:
        raise InvalidRequest(
            f"{strategy}'s {name} has no declared numeric bounds to draw from; give its values",
            field=f"grid.{name}",
        )
    return Span(info["min"], info["max"])


def _declared(strategy: str, name: str, where: str) -> dict[str, Any]:
    declared = next((d for d in registry.describe() if d["name"] == strategy), None)
    if declared is None:
        registry.get(strategy)  # raises InvalidRequest naming the strategy
        raise InvalidRequest(f"unknown strategy {strategy!r}", field="strategy")
    info = declared["params"].get(name)
    if info is None:
        known = ", ".join(sorted(declared["params"]))
        raise InvalidRequest(f"{strategy} has no parameter {name!r} (has: {known})", field=where)
    return dict(info)


def _check_bounds(strategy: str, space: Space) -> None:
    """Every value (a span's ends) within the parameter's declared bounds; unknown names
    refused, and spans of parameters that are not numbers."""
    declared = next((d for d in registry.describe() if d["name"] == strategy), None)
    if declared is None:
        registry.get(strategy)  # raises InvalidRequest naming the strategy
        return
    for name, values in space.items():
        where = f"grid.{name}"
        info = declared["params"].get(name)
        if info is None:
            known = ", ".join(sorted(declared["params"]))
            raise InvalidRequest(
                f"{strategy} has no parameter {name!r} (has: {known})", field=where
            )
        if isinstance(values, Span):
            if info["type"] not in ("integer", "number"):
                raise InvalidRequest(
                    f"{name} is a {info['type']}: list its values instead of a range", field=where
                )
            if info["type"] == "integer" and math.ceil(values.low) > math.floor(values.high):
                raise InvalidRequest(
                    f"{name}: no integer in {values.low}:{values.high}", field=where
                )
            values = [values.low, values.high]
        if not values:
            raise InvalidRequest(f"{name}: the range lists no values", field=where)
        low, high = info["min"], info["max"]
        for value in values:
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if numeric and (
                (low is not None and value < low) or (high is not None and value > high)
            ):
                raise InvalidRequest(
                    f"{name}={value} is outside {strategy}'s bounds [{low}, {high}]",
                    field=where,
                )


def grid_combinations(
    strategy: str, space: Space, *, fixed: Mapping[str, Any] | None = None
) -> tuple[list[dict[str, Any]], int]:
    """(valid parameter sets of the full grid in a stable order, number skipped).

    Values outside a parameter's bounds raise `InvalidRequest`; combinations that break a rule
    between parameters (fast < slow) are skipped and counted.
    """
    lists: dict[str, Sequence[Any]] = {}
    for name, values in space.items():
        if isinstance(values, Span):
            raise InvalidRequest(
                f"{name}: a range without a step is for random search; give a step",
                field=f"grid.{name}",
            )
        lists[name] = values
    _check_bounds(strategy, lists)
    grid = ({**(fixed or {}), **params} for params in grid_points(lists))
    return _valid(strategy, grid)


def grid_points(space: Mapping[str, Sequence[Any]]) -> Iterator[dict[str, Any]]:
    """Every point of the full grid, unchecked, in the stable order of every sweep: names
    sorted, each parameter's values as given, the last name varying fastest."""
    names = sorted(space)
    for values in itertools.product(*(space[name] for name in names)):
        yield dict(zip(names, values, strict=True))


def random_combinations(
    strategy: str,
    space: Space,
    count: int,
    seed: int,
    *,
    fixed: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Up to `count` distinct valid parameter sets drawn with `numpy.random.default_rng(seed)`
    (deterministic), and the number of draws skipped.

    Without a `Span`, the space is its grid: `count` distinct valid grid points (sampled without
    replacement; the whole grid when it is smaller). With spans, each draw picks every
    parameter in name order: a list's values uniformly, a span uniformly over its interval (an
    integer parameter any integer in it, a number one rounded to 6 decimals); draws that break
    a rule between parameters or repeat an earlier one are skipped and drawn again (given up
    after 100 draws per wanted set).
    """
    if count < 1:
        raise InvalidRequest("the number of random draws must be at least 1", field="random")
    if not any(isinstance(values, Span) for values in space.values()):
        every, skipped = grid_combinations(strategy, space, fixed=fixed)
        if count >= len(every):
            return every, skipped
        picks = np.random.default_rng(seed).choice(len(every), size=count, replace=False)
        return [every[int(i)] for i in np.sort(picks)], skipped
    _check_bounds(strategy, space)
    kinds = {name: _declared(strategy, name, f"grid.{name}")["type"] for name in space}
    rng = np.random.default_rng(seed)
    names = sorted(space)
    chosen: list[dict[str, Any]] = []
    seen: set[str] = set()
    skipped = 0
    for _ in range(count * _DRAWS_PER_COMBINATION):
        if len(chosen) == count:
            break
        draw = {name: _draw(rng, space[name], kinds[name]) for name in names}
        params = {**(fixed or {}), **draw}
        key = repr(sorted(params.items()))
        if key in seen:
            continue
        seen.add(key)
        valid, _ = _valid(strategy, [params])
        if valid:
            chosen.append(params)
        else:
            skipped += 1
    return chosen, skipped


def _draw(rng: np.random.Generator, values: Sequence[Any] | Span, kind: str) -> Any:
    if not isinstance(values, Span):
        value = values[int(rng.integers(len(values)))]
        return value.item() if isinstance(value, np.generic) else value
    if kind == "integer":
        return int(rng.integers(math.ceil(values.low), math.floor(values.high) + 1))
    value = round(float(rng.uniform(values.low, values.high)), _FLOAT_DIGITS)
    return min(max(value, values.low), values.high)


def _valid(strategy: str, grid: Any) -> tuple[list[dict[str, Any]], int]:
    valid, skipped = [], 0
    for params in grid:
        try:
            registry.build(strategy, params)
        except InvalidRequest:
            skipped += 1
            continue
        valid.append(params)
    return valid, skipped
