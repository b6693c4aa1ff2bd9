"""Calls to the analyst service over HTTP (`ANALYST_URL`), relayed by `gateway.upstream`."""

from __future__ import annotations

from fastapi import Request, Response

from gateway.upstream import Upstream


async def forward_get(
    analyst: Upstream, request: Request, path: str, params: dict[str, str]
) -> Response:
    """GET `{ANALYST_URL}{path}` with the caller's query parameters and key (the analyst checks
    keys too), and relay the answer."""
    headers = {"authorization": request.headers["authorization"]}
    return await analyst.relay("GET", path, params=params, headers=headers)
