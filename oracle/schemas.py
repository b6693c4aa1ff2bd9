"""Request and response bodies of `POST /predict` and the oracle's other routes.

`PredictRequest` takes exactly one of three forms:

- `{"state": [x0, x1, ...]}`: one observation, `obs_dim` finite numbers, as the lab's
  environment builds it (the `velocitas.features` row of the bar just closed, then the side the
  agent targets: −1, 0 or +1);
- `{"states": [[...], [...]]}`: a batch of such observations (at most `ORACLE_MAX_BATCH`);
- `{"symbol": "BTCUSDT", "at": "2024-03-01T12:00:00Z"}`: the oracle builds the observation
  itself from the stored bars of the model's timeframe that closed by `at`, exactly as the
  lab's environment does. `position` (default 0) is the side currently targeted; `start`
  (default: `ORACLE_HISTORY_BARS` bars before `at`) is where the bar series begins, which
  matters to the last digits of the recursive indicators (RSI, MACD).

Numbers must be JSON numbers (strings and booleans are refused), finite and at most
`MAX_STATE` in size (the kernels square and exponentiate them in float64); instants lie in
`velocitas.timeparse`'s range; a symbol is spelled as stored (`SYMBOL_PATTERN`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from velocitas.domain.symbols import SYMBOL_PATTERN
from velocitas.timeparse import Instant

__all__ = [
    "BatchPredictionPublic",
    "FiniteNumber",
    "ModelPublic",
    "PredictRequest",
    "PredictionPublic",
    "RowPrediction",
]

MAX_STATE = 1e12

FiniteNumber = Annotated[
    float, Field(strict=True, allow_inf_nan=False, ge=-MAX_STATE, le=MAX_STATE)
]


class PredictRequest(BaseModel):
    """One state, a batch of states, or a symbol and an instant (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: list[FiniteNumber] | None = None
    states: list[list[FiniteNumber]] | None = None
    symbol: str | None = Field(default=None, pattern=SYMBOL_PATTERN)
    at: Instant | None = None
    start: Instant | None = None
    position: Literal[-1, 0, 1] = 0

    @model_validator(mode="after")
    def _one_form(self) -> PredictRequest:
        forms = [
            name
            for name, given in (
                ("state", self.state is not None),
                ("states", self.states is not None),
                ("symbol", self.symbol is not None or self.at is not None),
            )
            if given
        ]
        if len(forms) != 1:
            raise ValueError(
                "give exactly one of `state`, `states`, or `symbol` with `at`"
                + (f" (got {', '.join(forms)})" if forms else "")
            )
        if forms == ["symbol"] and (self.symbol is None or self.at is None):
            raise ValueError("`symbol` and `at` go together")
        if forms != ["symbol"] and (self.start is not None or self.position != 0):
            raise ValueError("`start` and `position` belong to the `symbol`/`at` form")
        return self


class PredictionPublic(BaseModel):
    """The answer for one state: the deterministic action and the policy's probability of it.

    Discrete policies: `action` is 0 (hold), 1 (buy) or 2 (sell). Box policies: `action` is
    the action vector and `confidence` is 1. The `symbol` form adds the observation built and
    the close of the bar it describes."""

    action: int | list[float]
    confidence: float
    model_version: str
    feature_spec_hash: str
    observation: list[float] | None = None
    bar_closed_at: datetime | None = None


class RowPrediction(BaseModel):
    action: int | list[float]
    confidence: float


class BatchPredictionPublic(BaseModel):
    """The answer for a batch: one row per state, in order, all from the one model named."""

    predictions: list[RowPrediction]
    model_version: str
    feature_spec_hash: str


class ModelPublic(BaseModel):
    """A registered model, and whether this oracle is serving it."""

    version: str
    symbol: str
    timeframe: str
    stage: str
    sha256: str
    feature_spec_hash: str
    created_at: datetime | None
    promoted_at: datetime | None
    metrics: dict[str, Any]
    serving: bool
