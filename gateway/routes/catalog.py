"""What a client needs to build its forms: `GET /strategies` (the strategy registry, each
parameter with its type, default and inclusive bounds) and `GET /series` (the stored bar series
with their span, bar count and gaps). Both need the key, like every other route.

The web app draws its backtest and sweep forms from `GET /strategies`, so a strategy registered
by a plug-in gets a form with no web code; the bounds it shows are the ones `POST /backtests`
enforces (both read `velocitas.strategies.registry`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from gateway.deps import require_user
from velocitas.ingest.catalog import list_series
from velocitas.strategies import registry

router = APIRouter(
    tags=["catalog"],
    dependencies=[Depends(require_user)],
    responses={401: {"description": "Missing or invalid API key."}},
)


class StrategyParamPublic(BaseModel):
    """One parameter: `type` is a JSON type name (`integer`, `number`, `boolean`, `string`,
    `array`, `object`, or several joined by ` | `); `min`/`max` are inclusive bounds (list
    lengths for arrays), null when unbounded."""

    name: str
    type: str
    default: Any
    required: bool
    min: float | None
    max: float | None
    description: str


class StrategyPublic(BaseModel):
    name: str
    description: str
    params: list[StrategyParamPublic] = Field(description="In declaration order.")
    constraints: list[str] = Field(description="Rules between parameters, as text.")


class StoredSeriesPublic(BaseModel):
    """A stored series: first and last bar (UTC), bar count, missing grid slots and in how many
    runs they fall (counted on the market calendar its spacing suggests)."""

    symbol: str
    timeframe: str
    first_opened_at: datetime
    last_opened_at: datetime
    bars: int
    missing_bars: int
    gap_count: int


@router.get("/strategies", response_model=list[StrategyPublic])
def list_strategies() -> list[StrategyPublic]:
    """Every registered strategy (built-in and plug-in), sorted by name, with its parameters."""
    return [
        StrategyPublic(
            name=entry["name"],
            description=entry["description"],
            params=[StrategyParamPublic(name=n, **p) for n, p in entry["params"].items()],
            constraints=entry["constraints"],
        )
        for entry in registry.describe()
    ]


@router.get("/series", response_model=list[StoredSeriesPublic])
async def list_stored_series() -> list[StoredSeriesPublic]:
    """Every stored (symbol, timeframe) series, ordered by symbol then timeframe."""
    found = await run_in_threadpool(list_series)  # the database every request's session uses
    return [
        StoredSeriesPublic(
            **{
                **s.to_dict(),
                "first_opened_at": s.first_opened_at.astimezone(UTC),
                "last_opened_at": s.last_opened_at.astimezone(UTC),
            }
        )
        for s in found
    ]
