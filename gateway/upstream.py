"""Calls to the services behind the gateway (oracle, analyst), answered as they answered.

Services never import each other: the gateway knows them only by URL. Each is one `Upstream`,
a pooled HTTP client created when the gateway starts and closed when it stops (a client per
request cost ~19 ms of event-loop CPU and stalled every other request). A service that cannot
be reached answers 503, one slower than its timeout 504; anything the service says itself (its
status and body) is relayed unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import Depends, Request, Response, status

from gateway.schemas import ErrorBody

__all__ = ["AnalystDep", "OracleDep", "Upstream"]


class Upstream:
    """One service at `base_url`, reached through a pool of kept-alive connections."""

    def __init__(
        self, service: str, base_url: str, *, timeout: float, max_connections: int = 100
    ) -> None:
        self.service = service
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def relay(self, method: str, path: str, **request: Any) -> Response:
        """Send the request (`httpx` keyword arguments) to `path` and answer with its reply."""
        try:
            answer = await self.client.request(method, path, **request)
        except httpx.TimeoutException:
            return _error(
                status.HTTP_504_GATEWAY_TIMEOUT, f"the {self.service} did not answer in time"
            )
        except httpx.TransportError as exc:
            return _error(
                status.HTTP_503_SERVICE_UNAVAILABLE, f"the {self.service} is unreachable: {exc}"
            )
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type", "application/json"),
        )

    async def aclose(self) -> None:
        await self.client.aclose()


def _error(code: int, detail: str) -> Response:
    return Response(
        ErrorBody(detail=detail).model_dump_json(), status_code=code, media_type="application/json"
    )


async def _oracle(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.oracle
    return upstream


async def _analyst(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.analyst
    return upstream


OracleDep = Annotated[Upstream, Depends(_oracle)]
AnalystDep = Annotated[Upstream, Depends(_analyst)]
