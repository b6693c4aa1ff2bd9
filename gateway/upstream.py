"""Calls to the services behind the gateway (oracle, analyst), answered as they answered.

Services never import each other: the gateway knows them only by URL. A service that cannot be
reached answers 503, one slower than its timeout 504; anything the service says itself (its
status and body) is relayed unchanged.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Response, status

from gateway.schemas import ErrorBody


async def relay(service: str, method: str, url: str, *, timeout: float, **request: Any) -> Response:
    """Send the request (`httpx` keyword arguments) to `service` and answer with its reply."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            answer = await client.request(method, url, **request)
    except httpx.TimeoutException:
        return _error(status.HTTP_504_GATEWAY_TIMEOUT, f"the {service} did not answer in time")
    except httpx.TransportError as exc:
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, f"the {service} is unreachable: {exc}")
    return Response(
        answer.content,
        status_code=answer.status_code,
        media_type=answer.headers.get("content-type", "application/json"),
    )


def _error(code: int, detail: str) -> Response:
    return Response(
        ErrorBody(detail=detail).model_dump_json(), status_code=code, media_type="application/json"
    )
