"""The `Strategy` contract: typed, bounded parameters in; one target side per bar out.

A strategy reads bars and returns, for every bar, the side it wants to hold once that bar has
closed: +1 long, -1 short, 0 flat (an `int8` array as long as the bars). The engine decides
when and at what price that wish is filled (next open by default); the strategy never sees
a bar after the one it decides on, so `signals(bars[:t])` equals `signals(bars)[:t]`.

Parameters are a pydantic model nested in the class as `Params`: each field has a default and
bounds (`Field(ge=..., le=...)`, inclusive), unknown names are refused, and a rule between
parameters (say `fast < slow`) is a field validator on the later one, so the error names it.
The registry turns validation errors into `InvalidRequest` with the field path, so a bad
request is refused before any work starts. Building directly (`SmaCross({"fast": 0})`) raises
pydantic's `ValidationError` instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]

__all__ = [
    "F64",
    "FLAT",
    "I8",
    "LONG",
    "SHORT",
    "AllowShort",
    "Bars",
    "Strategy",
    "StrategyParams",
    "long_only",
]

LONG = 1
FLAT = 0
SHORT = -1


class Bars(Protocol):
    """What a strategy reads: OHLCV float64 columns of equal length (`BarArrays` fits)."""

    @property
    def open(self) -> F64: ...
    @property
    def high(self) -> F64: ...
    @property
    def low(self) -> F64: ...
    @property
    def close(self) -> F64: ...
    @property
    def volume(self) -> F64: ...
    def __len__(self) -> int: ...


class StrategyParams(BaseModel):
    """Base of every strategy's `Params`: immutable, unknown names refused.

    `constraints` lists, for humans and `describe()`, the cross-field rules that the model's
    validators enforce (e.g. `"fast < slow"`).
    """

    # validate_default: a rule between parameters (fast < slow) must also hold when one of
    # them is left at its default.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    constraints: ClassVar[tuple[str, ...]] = ()


AllowShort = Annotated[
    bool, Field(description="take short positions; when false, short signals mean flat")
]
"""The `allow_short` parameter of strategies that can go short (declare it last, default False)."""


class Strategy(ABC):
    """A trading rule. Subclasses set `name`, `description`, a nested `Params` and `signals`.

    Build one with validated parameters: `SmaCross(SmaCross.Params(fast=5, slow=20))`,
    `SmaCross({"fast": 5})` or, from user input, `registry.build("sma_cross", {...})`.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[StrategyParams]] = StrategyParams

    params: StrategyParams

    def __init__(self, params: StrategyParams | Mapping[str, Any] | None = None) -> None:
        if params is None:
            params = self.Params()
        elif not isinstance(params, StrategyParams):
            params = self.Params.model_validate(dict(params))
        if not isinstance(params, self.Params):
            raise TypeError(f"{type(self).__name__} expects {self.Params.__qualname__}")
        self.params = params

    @abstractmethod
    def signals(self, bars: Bars) -> I8:
        """Target side (+1/0/-1, int8) decided at each bar's close; 0 during warm-up."""

    def signals_with_confidence(self, bars: Bars) -> tuple[I8, F64 | None]:
        """(`signals(bars)`, the confidence in [0, 1] of each bar's target side), the
        confidence None when it is 1 everywhere: a rule strategy is sure of its rule. A
        strategy that weighs its choice (an ensemble's vote share, a policy's action
        probability) overrides this; the engine's `risk.min_confidence` reads it."""
        return self.signals(bars), None

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"{type(self).__name__}({fields})"


def long_only(side: I8, allow_short: bool) -> I8:
    """`side` unchanged when shorting is allowed, else with every -1 turned into 0 (in place)."""
    if not allow_short:
        np.maximum(side, FLAT, out=side)  # no mask array: one pass, the same values
    return side
