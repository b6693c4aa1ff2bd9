"""The platform's exceptions as HTTP answers, in the same shape as FastAPI's own 422."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from velocitas.errors import Conflict, InvalidRequest, NotFound, TransientError


class ErrorBody(BaseModel):
    """Every 4xx/5xx the gateway answers on purpose: `detail` says what went wrong."""

    detail: str


def _problem_at(field: str | None) -> list[str | int]:
    """`legs[0].strategy.params.fast` -> ["body", "legs", 0, "strategy", "params", "fast"];
    a field already rooted (`query.cursor`) keeps its root."""
    parts: list[str | int] = [
        int(part) if part.isdigit() else part for part in re.split(r"[.\[\]]+", field or "") if part
    ]
    if not parts or parts[0] not in ("body", "query", "path", "header"):
        parts.insert(0, "body")
    return parts


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidRequest)
    detail = [{"loc": _problem_at(exc.field), "msg": str(exc), "type": "invalid_request"}]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _plain(code: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return handler


def install(app: FastAPI) -> None:
    app.add_exception_handler(InvalidRequest, _invalid_request)
    app.add_exception_handler(NotFound, _plain(status.HTTP_404_NOT_FOUND))
    app.add_exception_handler(Conflict, _plain(status.HTTP_409_CONFLICT))
    app.add_exception_handler(TransientError, _plain(status.HTTP_503_SERVICE_UNAVAILABLE))
