"""The model registry over the gateway: `GET /models` (every registered model, its metrics and
stage) for any user, `POST /models/{version}/promote` (make it the production model, demoting
the previous one) for admins only, since it changes what the oracle serves to everyone.

The oracle notices a promotion on its own (it polls the registry; docs/oracle.md), so the
gateway only writes the registry, as `velocitas lab promote` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from gateway.deps import require_role, require_user
from velocitas.db.models_registry import ModelRecord, list_models, promote_model
from velocitas.domain.roles import Role

router = APIRouter(
    prefix="/models",
    tags=["models"],
    responses={401: {"description": "Missing or invalid API key."}},
)

require_admin = require_role(Role.ADMIN, "promoting a model to production")


class RegisteredModelPublic(BaseModel):
    version: str
    symbol: str
    timeframe: str
    stage: str
    sha256: str
    feature_spec_hash: str
    data_snapshot_hash: str
    train_start: datetime
    train_end: datetime
    validate_start: datetime
    validate_end: datetime
    created_at: datetime | None
    promoted_at: datetime | None
    metrics: dict[str, Any]


def _public(record: ModelRecord) -> RegisteredModelPublic:
    fields = record.to_dict()
    fields.pop("path", None)  # where the bundle lies on the server is not the caller's business
    return RegisteredModelPublic.model_validate(fields)


@router.get("", dependencies=[Depends(require_user)])
async def list_registered_models(
    symbol: Annotated[str | None, Query(max_length=32)] = None,
    stage: Annotated[str | None, Query(max_length=16, description="candidate, production…")] = None,
) -> list[RegisteredModelPublic]:
    """Registered models, newest first."""
    records = await run_in_threadpool(lambda: list_models(symbol=symbol, stage=stage))
    return [_public(r) for r in records]


@router.post(
    "/{version}/promote",
    dependencies=[Depends(require_admin)],
    responses={
        403: {"description": "Only admins promote."},
        404: {"description": "No such model."},
    },
)
async def promote_registered_model(
    version: Annotated[str, Path(max_length=100)],
) -> RegisteredModelPublic:
    """Make `version` the production model (idempotent); the previous one becomes a candidate."""
    record = await run_in_threadpool(promote_model, version)
    return _public(record)
