"""The model registry as the oracle sees it."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from oracle.deps import HolderDep
from oracle.schemas import ModelPublic
from velocitas.db.models_registry import list_models

router = APIRouter(tags=["models"])


@router.get("/models")
async def list_registered_models(holder: HolderDep) -> list[ModelPublic]:
    records = await asyncio.to_thread(list_models, settings=holder.settings)
    served = holder.current
    return [
        ModelPublic(
            version=r.version,
            symbol=r.symbol,
            timeframe=r.timeframe,
            stage=r.stage,
            sha256=r.sha256,
            feature_spec_hash=r.feature_spec_hash,
            created_at=r.created_at,
            promoted_at=r.promoted_at,
            metrics=r.metrics,
            serving=served is not None and served.version == r.version,
        )
        for r in records
    ]
