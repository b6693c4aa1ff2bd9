"""Calls to the services behind the gateway (oracle, analyst), answered as they answered.

Services never import each other: the gateway knows them only by URL. Each is one `Upstream`,
a pool of kept-alive connections (`gateway.http1`) created when the gateway starts and closed
when it stops (a client per request cost ~19 ms of event-loop CPU and stalled every other
request). A service that cannot be reached answers 503, one slower than its timeout 504, with
the gateway's own error body, which names the service but never its address (that goes to the
log); anything the service says itself (its status, body and Content-Type) is relayed unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request, Response, status

from gateway.http1 import Pool, Reply, Unreachable
from gateway.schemas import ErrorBody
from velocitas.structured_logs import current_request_id

__all__ = ["AnalystDep", "OracleDep", "Upstream"]

_JSON = b"application/json"
_log = logging.getLogger(__name__)


class Upstream:
    """One service at `base_url`, reached through a pool of kept-alive connections."""

    def __init__(
        self, service: str, base_url: str, *, timeout: float, max_connections: int = 100
    ) -> None:
        self.service = service
        self._pool = Pool(base_url, timeout=timeout, max_connections=max_connections)

    async def call(
        self,
        method: bytes,
        target: bytes,
        headers: Iterable[tuple[bytes, bytes]],
        body: bytes = b"",
    ) -> Reply:
        """The service's answer to `method target` (path and query), or the gateway's own 503 or
        504 when there is none. Its Content-Type is JSON when the service named none."""
        request_id = current_request_id()
        if request_id is not None:  # the service's log lines name the same request
            headers = [*((k, v) for k, v in headers if k != b"x-request-id"),
                       (b"x-request-id", request_id.encode())]  # fmt: skip
        try:
            reply = await self._pool.request(method, target, headers, body)
        except TimeoutError:
            _log.warning("the %s did not answer %s %s in time", self.service, method, target)
            return _error(
                status.HTTP_504_GATEWAY_TIMEOUT, f"the {self.service} did not answer in time"
            )
        except ValueError:  # a CR, LF or NUL no HTTP server passes on: refuse, don't forward
            return _error(status.HTTP_400_BAD_REQUEST, "the request cannot be forwarded as it is")
        except Unreachable as exc:
            _log.warning("the %s is unreachable: %s", self.service, exc)
            return _error(status.HTTP_503_SERVICE_UNAVAILABLE, f"the {self.service} is unreachable")
        if reply.content_type is None:
            return Reply(reply.status, reply.body, _JSON)
        return reply

    async def relay(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Response:
        """`call`, for a FastAPI route: `path?params` with `headers`, answered as a Response."""
        target = path + (f"?{urlencode(params)}" if params else "")
        reply = await self.call(
            method.encode(),
            target.encode(),
            [(name.lower().encode("latin-1"), v.encode("latin-1")) for name, v in headers.items()],
            body,
        )
        return Response(reply.body, status_code=reply.status, headers=_content_type(reply))

    async def aclose(self) -> None:
        await self._pool.aclose()


def _content_type(reply: Reply) -> dict[str, str]:
    return {"content-type": (reply.content_type or _JSON).decode("latin-1")}


def _error(code: int, detail: str) -> Reply:
    return Reply(code, ErrorBody(detail=detail).model_dump_json().encode(), _JSON)


async def _oracle(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.oracle
    return upstream


async def _analyst(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.analyst
    return upstream


OracleDep = Annotated[Upstream, Depends(_oracle)]
AnalystDep = Annotated[Upstream, Depends(_analyst)]


def analyst_responses(ok: str) -> dict[int | str, dict[str, object]]:
    """The OpenAPI answers of a route relayed to the analyst: `ok` describes its 200."""
    return {
        200: {"description": ok},
        401: {"model": ErrorBody},
        503: {"model": ErrorBody, "description": "The analyst is down."},
        504: {"model": ErrorBody},
    }
