"""What a sweep optimises: one `Objective` (a metric, its direction, and the constraints that
exclude runs) and the one ranking order, for local sweeps, walk-forward folds and the job
platform's sweeps alike.

The request dialect is flat, the same for `POST /sweeps`, `POST /walk-forwards` and the CLI:
`objective` (the metric), `direction`, `min_trades`, `max_drawdown`; `ObjectiveFields` declares
those fields once and `ObjectiveFields.scoring` turns them into the `Objective`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["OBJECTIVES", "Direction", "Objective", "ObjectiveFields", "ObjectiveName"]

ObjectiveName = Literal["sharpe", "sortino", "calmar", "total_return", "profit_factor"]
OBJECTIVES: tuple[str, ...] = ("sharpe", "sortino", "calmar", "total_return", "profit_factor")
"""Metrics a local sweep (and so a walk-forward fold) measures and may rank by."""

Direction = Literal["maximize", "minimize"]

_Run = TypeVar("_Run")


class Objective(BaseModel):
    """Rank runs by `metric` (highest first when `direction` is `maximize`), over the runs with
    at least `min_trades` closed trades and a maximum drawdown of at most `max_drawdown` (a
    fraction; None: no limit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str = "sharpe"
    direction: Direction = "maximize"
    min_trades: int = 0
    max_drawdown: float | None = None

    @property
    def constrained(self) -> bool:
        """Whether a constraint can exclude a run."""
        return self.min_trades > 0 or self.max_drawdown is not None

    def excluded_because(self, trades: int, max_drawdown: float) -> str | None:
        """Why a run with `trades` closed trades and this maximum drawdown breaks a constraint;
        None when it qualifies."""
        reasons = []
        if trades < self.min_trades:
            reasons.append(f"{trades} trades < {self.min_trades}")
        if self.max_drawdown is not None and max_drawdown > self.max_drawdown:
            reasons.append(f"max drawdown {max_drawdown:.4f} > {self.max_drawdown}")
        return "; ".join(reasons) or None

    def order(self, runs: Sequence[_Run], value: Callable[[_Run], float | None]) -> list[_Run]:
        """`runs` best first by `value(run)`: runs without a value last; ties keep their order
        (the grid's), so a ranking is deterministic."""
        sign = -1.0 if self.direction == "maximize" else 1.0

        def key(run: _Run) -> tuple[bool, float]:
            score = value(run)
            return (score is None, sign * (score or 0.0))

        return sorted(runs, key=key)


class ObjectiveFields(BaseModel):
    """The objective's request fields, declared once for every spec that optimises."""

    objective: str = Field(default="sharpe", min_length=1)
    direction: Direction = "maximize"
    min_trades: int = Field(default=0, ge=0, le=1_000_000_000)
    max_drawdown: float | None = Field(default=None, gt=0, le=1)

    @property
    def scoring(self) -> Objective:
        """These fields as the `Objective` they name."""
        return Objective(
            metric=self.objective,
            direction=self.direction,
            min_trades=self.min_trades,
            max_drawdown=self.max_drawdown,
        )
