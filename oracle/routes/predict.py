"""`POST /predict`: the served policy's deterministic action for one state, a batch, or a
symbol at an instant (request forms in `oracle.schemas`)."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from oracle.bundles import ServedModel
from oracle.deps import get_holder, served_model
from oracle.inference import Prediction
from oracle.observations import observation_at
from oracle.responses import json_response
from oracle.schemas import BatchPredictionPublic, PredictionPublic, PredictRequest
from oracle.telemetry import infer
from velocitas.errors import InvalidRequest
from velocitas.request_body import read_capped

router = APIRouter(tags=["predict"])

THREAD_ROWS = 256
"""Batches from this size on run in a worker thread (the kernel releases the GIL), so a large
batch does not hold up the event loop's other requests."""


def _action(model: ServedModel, prediction: Prediction, row: int) -> Any:
    if model.compiled.discrete:
        return prediction.actions[row]
    return prediction.output[row]


def _parse(body: bytes) -> PredictRequest:
    try:
        return PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {"loc": ("body", *error["loc"]), "msg": error["msg"], "type": error["type"]}
                for error in exc.errors(include_url=False, include_input=False)
            ]
        ) from exc


@router.post(
    "/predict",
    response_model=PredictionPublic | BatchPredictionPublic,
    # The body is parsed here, by pydantic-core straight from the JSON bytes, rather than
    # through FastAPI's dependency machinery, which costs several times the prediction itself.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
        }
    },
    responses={
        413: {"description": "The request body is larger than ORACLE_MAX_BODY_BYTES."},
        422: {"description": "A malformed state (length, type, NaN/inf) or batch; nothing ran."},
        503: {"description": "No model is loaded yet."},
    },
)
async def create_prediction(http_request: Request) -> Response:
    """The action the served policy takes (argmax, deterministic) and its probability; every
    answer names the model version and feature spec that produced it."""
    holder = get_holder(http_request)
    settings = holder.settings
    body = await read_capped(
        http_request.stream(),
        limit=settings.oracle_max_body_bytes,
        declared_length=http_request.headers.get("content-length"),
        setting="ORACLE_MAX_BODY_BYTES",
    )
    request = _parse(body)
    model = served_model(holder)
    obs_dim = model.compiled.obs_dim
    head = {"model_version": model.version, "feature_spec_hash": model.feature_spec_hash}
    if request.states is not None:
        states = request.states
        if len(states) > settings.oracle_max_batch:
            raise InvalidRequest(
                f"{len(states)} states; at most {settings.oracle_max_batch} per request",
                field="states",
            )
        if not states:
            raise InvalidRequest("give at least one state", field="states")
        for index, row in enumerate(states):
            if len(row) != obs_dim:
                raise InvalidRequest(
                    f"has {len(row)} numbers; the model expects {obs_dim}",
                    field=f"states[{index}]",
                )
        matrix = np.array(states, dtype=np.float64)
        compiled = model.compiled
        prediction = (
            await asyncio.to_thread(infer, compiled, matrix)
            if len(states) >= THREAD_ROWS
            else infer(compiled, matrix)
        )
        rows = [
            {"action": _action(model, prediction, r), "confidence": prediction.confidence[r]}
            for r in range(len(states))
        ]
        return json_response({"predictions": rows, **head})
    extra: dict[str, Any] = {}
    if request.state is not None:
        if len(request.state) != obs_dim:
            raise InvalidRequest(
                f"has {len(request.state)} numbers; the model expects {obs_dim}", field="state"
            )
        state: npt.NDArray[np.float64] = np.array([request.state], dtype=np.float64)
    else:
        assert request.symbol is not None  # the schema's one-form rule
        assert request.at is not None
        try:
            built = await asyncio.to_thread(
                observation_at,
                model.policy,
                model.timeframe,
                request.symbol,
                request.at,
                request.position,
                request.start,
                settings.oracle_history_bars,
                settings.database_url,
            )
        except InvalidRequest as exc:
            raise InvalidRequest(str(exc), field=exc.field or "symbol") from exc
        state = built.state
        extra = {"observation": state[0], "bar_closed_at": built.bar_closed_at}
    prediction = infer(model.compiled, state)
    return json_response(
        {
            "action": _action(model, prediction, 0),
            "confidence": prediction.confidence[0],
            **head,
            **extra,
        }
    )
