"""Weighted vote of member strategies.

At each bar, `vote = Σ wᵢ · sideᵢ` over the members' target sides (+1/0/-1). The ensemble
targets `sign(vote)` when `|vote| >= threshold · Σ|wᵢ|`, else flat. `threshold = 0` follows any
non-zero majority; `threshold = 1` requires every member (with non-zero weight) to agree.
Negative weights are allowed (a contrarian member). Members are built and validated through
the registry with their own parameters, including their own `allow_short`; the ensemble's
`allow_short` then decides whether a short vote is acted on.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from velocitas.errors import InvalidRequest
from velocitas.jit import njit
from velocitas.strategies.base import F64, I8, AllowShort, Bars, Strategy, StrategyParams
from velocitas.strategies.shared import shared

__all__ = ["Ensemble", "EnsembleMember"]


class EnsembleMember(BaseModel):
    """One voter: a registered strategy (not an ensemble), its parameters and its weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="registered strategy name")
    params: dict[str, Any] = Field(default_factory=dict, description="the member's parameters")
    weight: float = Field(1.0, ge=-1_000.0, le=1_000.0, description="vote weight")


class Ensemble(Strategy):
    name = "ensemble"
    description = (
        "Weighted vote of member strategies: take the vote's side when"
        " |Σ w·side| >= threshold·Σ|w|."
    )

    class Params(StrategyParams):
        constraints: ClassVar[tuple[str, ...]] = (
            "at least one member with a non-zero weight",
            "members are not ensembles",
        )

        members: list[EnsembleMember] = Field(
            min_length=1, max_length=32, description="[{name, params, weight}, ...]"
        )
        threshold: float = Field(
            0.5, ge=0.0, le=1.0, description="fraction of the total |weight| the vote must reach"
        )
        allow_short: AllowShort = False

        @model_validator(mode="after")
        def _some_weight(self) -> Self:
            if not any(m.weight != 0.0 for m in self.members):
                raise ValueError("at least one member needs a non-zero weight")
            return self

    params: Params

    def __init__(self, params: StrategyParams | Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        from velocitas.strategies import registry  # the registry imports this module

        members: list[Strategy] = []
        for i, member in enumerate(self.params.members):
            where = f"strategy.params.members.{i}"
            built = registry.build(member.name, member.params, field=where)
            if isinstance(built, Ensemble):
                raise InvalidRequest(
                    "an ensemble cannot contain an ensemble", field=f"{where}.name"
                )
            members.append(built)
        self.members = members
        self.weights = np.array([m.weight for m in self.params.members], dtype=np.float64)

    def votes(self, bars: Bars) -> npt.NDArray[np.float64]:
        """Weighted vote Σ wᵢ · sideᵢ at each bar."""
        vote = np.zeros(len(bars), dtype=np.float64)
        for weight, member in zip(self.weights, self.members, strict=True):
            if weight != 0.0:
                # A sweep over the ensemble's own parameters computes each member's sides once.
                key = ("signals", member.name, member.params.model_dump_json())
                _add_vote(vote, shared(bars, key, partial(member.signals, bars)), float(weight))
        return vote

    def signals(self, bars: Bars) -> I8:
        return self._sides(self.votes(bars))

    def signals_with_confidence(self, bars: Bars) -> tuple[I8, F64 | None]:
        """The sides and, as confidence, the vote share |Σ wᵢ · sideᵢ| / Σ|wᵢ| (1 when every
        member agrees, 0 on a tie or when every member is flat)."""
        vote = self.votes(bars)
        total = float(np.abs(self.weights).sum())
        return self._sides(vote), np.minimum(np.abs(vote) / total, 1.0)

    def _sides(self, vote: F64) -> I8:
        total = float(np.abs(self.weights).sum())
        # The tolerance keeps e.g. 0.1 + 0.2 against 0.3 from losing a unanimous vote to rounding.
        needed = self.params.threshold * total - 1e-12 * total
        return _decide(vote, needed, self.params.allow_short)


# In-place numba loops: numpy expressions here would allocate a bar-length float temporary per
# member and per step.


@njit(cache=True, nogil=True)
def _add_vote(vote: npt.NDArray[np.float64], side: I8, weight: float) -> None:
    for i in range(len(vote)):
        vote[i] += weight * side[i]


@njit(cache=True, nogil=True)
def _decide(vote: npt.NDArray[np.float64], needed: float, allow_short: bool) -> I8:
    out = np.zeros(len(vote), dtype=np.int8)
    for i in range(len(vote)):
        v = vote[i]
        if abs(v) >= needed and v != 0.0:
            if v > 0.0:
                out[i] = 1
            elif allow_short:
                out[i] = -1
    return out
