"""`POST /predict` for authenticated users, answered by the oracle service over HTTP.

The gateway never loads a model: it forwards the JSON body and the caller's key to
`{ORACLE_URL}/predict` (request forms in docs/oracle.md) and relays the oracle's answer and
status: 200 with the action and the model version, 413/422 naming the problem, 503 while no
model is loaded. An oracle that cannot be reached answers 503, one that is too slow 504
(`ORACLE_TIMEOUT_S`). The body's cap (`ORACLE_MAX_BODY_BYTES`) is `BodyLimit`'s, in `main`;
the relay itself is `gateway.proxy`'s, ahead of FastAPI's router.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from gateway.deps import CurrentUser
from gateway.schemas import ErrorBody
from gateway.upstream import OracleDep

router = APIRouter(tags=["predict"])

_BODY_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": (
                        'One of {"state": [numbers]}, {"states": [[numbers], ...]} or '
                        '{"symbol": str, "at": ISO-8601 instant, "position": -1|0|1, '
                        '"start": ISO-8601 instant}.'
                    ),
                }
            }
        },
    }
}


@router.post(
    "/predict",
    openapi_extra=_BODY_SCHEMA,
    responses={
        200: {"description": "The oracle's answer: action, confidence, model_version."},
        401: {"model": ErrorBody},
        413: {"model": ErrorBody},
        422: {"description": "The oracle refused the request, naming the field."},
        503: {"model": ErrorBody, "description": "The oracle is down or has no model."},
        504: {"model": ErrorBody},
    },
)
async def create_prediction(request: Request, user: CurrentUser, oracle: OracleDep) -> Response:
    """The served policy's action for a state, a batch of states, or a symbol at an instant."""
    # `gateway.proxy.ProxyRoutes` answers this route before FastAPI routes it; this is the same
    # relay, for the schema and for a request that reaches the router all the same.
    headers = {
        "content-type": request.headers.get("content-type", "application/json"),
        "authorization": request.headers["authorization"],
    }
    return await oracle.relay("POST", "/predict", body=await request.body(), headers=headers)
