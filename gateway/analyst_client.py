"""Calls to the analyst service over HTTP, answered to the gateway's caller as the analyst said.

Services never import each other: the gateway knows the analyst only by `ANALYST_URL`. An
analyst that cannot be reached answers 503, one slower than `ANALYST_TIMEOUT_S` answers 504;
anything the analyst says itself (200, 422 naming the field, 503 without a model) is relayed.
"""

from __future__ import annotations

import httpx
from fastapi import Response, status

from gateway.errors import ErrorBody
from gateway.settings import GatewaySettings


def _error(code: int, detail: str) -> Response:
    return Response(
        ErrorBody(detail=detail).model_dump_json(), status_code=code, media_type="application/json"
    )


async def forward_get(settings: GatewaySettings, path: str, params: dict[str, str]) -> Response:
    """GET `{ANALYST_URL}{path}` with the caller's query parameters and relay the answer."""
    try:
        async with httpx.AsyncClient(timeout=settings.analyst_timeout_s) as client:
            url = f"{settings.analyst_url.rstrip('/')}{path}"
            answer = await client.get(url, params=params)
    except httpx.TimeoutException:
        return _error(status.HTTP_504_GATEWAY_TIMEOUT, "the analyst did not answer in time")
    except httpx.TransportError as exc:
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, f"the analyst is unreachable: {exc}")
    return Response(
        answer.content,
        status_code=answer.status_code,
        media_type=answer.headers.get("content-type", "application/json"),
    )
