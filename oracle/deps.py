"""Dependencies shared by the oracle's routes.

All `async def`: FastAPI runs a plain `def` dependency in its thread pool, a hop that costs more
than the whole prediction. `/predict` calls `get_holder` and `served_model` directly.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from oracle.bundles import ServedModel
from oracle.holder import ModelHolder
from velocitas.errors import TransientError


def get_holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.holder
    return holder


async def holder_dependency(request: Request) -> ModelHolder:
    return get_holder(request)


HolderDep = Annotated[ModelHolder, Depends(holder_dependency)]


def served_model(holder: ModelHolder) -> ServedModel:
    """The model that answers this request, taken once: the whole response comes from it."""
    model = holder.current
    if model is None:
        # The reason (`last_error`, naming the bundle's path) is for operators, in /health.
        raise TransientError("no model is loaded yet, retry later")
    return model
