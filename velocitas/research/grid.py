"""The parameter sets of a sweep: ranges as text, a strategy's declared bounds, the full grid
or a seeded random draw of it. The one grid of local sweeps, walk-forwards, the CLI and the REST
API (`velocitas.research.sweeps.expand` walks `grid_points` too).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from velocitas.errors import InvalidRequest
from velocitas.strategies import registry

__all__ = ["grid_combinations", "grid_points", "parse_range", "random_combinations"]


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


def _check_bounds(strategy: str, space: Mapping[str, Sequence[Any]]) -> None:
    """Every value within the parameter's declared bounds; unknown names refused."""
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
    strategy: str, space: Mapping[str, Sequence[Any]], *, fixed: Mapping[str, Any] | None = None
) -> tuple[list[dict[str, Any]], int]:
    """(valid parameter sets of the full grid in a stable order, number skipped).

    Values outside a parameter's bounds raise `InvalidRequest`; combinations that break a rule
    between parameters (fast < slow) are skipped and counted.
    """
    _check_bounds(strategy, space)
    grid = ({**(fixed or {}), **params} for params in grid_points(space))
    return _valid(strategy, grid)


def grid_points(space: Mapping[str, Sequence[Any]]) -> Iterator[dict[str, Any]]:
    """Every point of the full grid, unchecked, in the stable order of every sweep: names
    sorted, each parameter's values as given, the last name varying fastest."""
    names = sorted(space)
    for values in itertools.product(*(space[name] for name in names)):
        yield dict(zip(names, values, strict=True))


def random_combinations(
    strategy: str,
    space: Mapping[str, Sequence[Any]],
    count: int,
    seed: int,
    *,
    fixed: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Up to `count` distinct valid grid points drawn with `numpy.random.default_rng(seed)`."""
    if count < 1:
        raise InvalidRequest("the number of random draws must be at least 1", field="random")
    every, skipped = grid_combinations(strategy, space, fixed=fixed)
    if count >= len(every):
        return every, skipped
    picks = np.random.default_rng(seed).choice(len(every), size=count, replace=False)
    return [every[int(i)] for i in np.sort(picks)], skipped


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
