"""`POST /predict` for authenticated users, answered by the oracle service over HTTP.

The gateway never loads a model: it forwards the JSON body to `{ORACLE_URL}/predict` (request
forms in docs/oracle.md) and relays the oracle's answer and status: 200 with the action and the
model version, 413/422 naming the problem, 503 while no model is loaded. An oracle that cannot
be reached answers 503, one that is too slow 504 (`ORACLE_TIMEOUT_S`).
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request, Response, status

from gateway.deps import CurrentUser, SettingsDep
from gateway.errors import ErrorBody

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


def _error(code: int, detail: str) -> Response:
    return Response(
        ErrorBody(detail=detail).model_dump_json(), status_code=code, media_type="application/json"
    )


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
async def create_prediction(request: Request, user: CurrentUser, settings: SettingsDep) -> Response:
    """The served policy's action for a state, a batch of states, or a symbol at an instant."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > settings.oracle_max_body_bytes:
            return _error(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"the request body is more than {settings.oracle_max_body_bytes} bytes",
            )
    try:
        async with httpx.AsyncClient(timeout=settings.oracle_timeout_s) as client:
            answer = await client.post(
                f"{settings.oracle_url.rstrip('/')}/predict",
                content=bytes(body),
                headers={"content-type": "application/json"},
            )
    except httpx.TimeoutException:
        return _error(status.HTTP_504_GATEWAY_TIMEOUT, "the oracle did not answer in time")
    except httpx.TransportError as exc:
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, f"the oracle is unreachable: {exc}")
    return Response(
        answer.content,
        status_code=answer.status_code,
        media_type=answer.headers.get("content-type", "application/json"),
    )
