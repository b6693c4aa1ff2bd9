"""Calls to the analyst service over HTTP (`ANALYST_URL`), relayed by `gateway.upstream`."""

from __future__ import annotations

from fastapi import Response

from gateway.settings import GatewaySettings
from gateway.upstream import relay


async def forward_get(settings: GatewaySettings, path: str, params: dict[str, str]) -> Response:
    """GET `{ANALYST_URL}{path}` with the caller's query parameters and relay the answer."""
    url = f"{settings.analyst_url.rstrip('/')}{path}"
    return await relay("analyst", "GET", url, timeout=settings.analyst_timeout_s, params=params)
