"""The platform's errors answered by a FastAPI app: the one installer the gateway, the analyst
and the oracle call, so the same error reads the same whichever service answers.

The mapping itself (status per error class, body shape) is `velocitas.http_errors`, which
imports no framework; this is the only module of `velocitas` that imports FastAPI (an
import-linter contract keeps it so), and only services that serve HTTP import it.

A database or Redis that cannot be reached answers 503 with `Retry-After` wherever its error
surfaces (`velocitas.http_errors.unavailable`); the error's own text goes to this module's log.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from velocitas.errors import VelocitasError
from velocitas.http_errors import (
    DEPENDENCY_DOWN,
    HTTP_STATUS,
    HttpAnswer,
    answer,
    invalid_input,
    unavailable,
)

__all__ = ["install_error_handlers"]

log = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI, *, root: str = "body") -> None:
    """Answer every mapped platform error and every request validation error of `app`.
    `root` locates an `InvalidRequest` whose field names no part of the request (the analyst's
    requests are queries, so it passes "query")."""

    async def platform_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, VelocitasError)
        return _respond(answer(exc, root=root))

    async def request_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _respond(invalid_input(exc.errors()))

    async def dependency_down(request: Request, exc: Exception) -> JSONResponse:
        http = unavailable(exc)
        assert http is not None
        log.warning(
            "%s %s answered 503: %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc,
        )
        return _respond(http)

    for error in HTTP_STATUS:
        app.add_exception_handler(error, platform_error)
    for down in DEPENDENCY_DOWN:
        app.add_exception_handler(down, dependency_down)
    app.add_exception_handler(RequestValidationError, request_invalid)


def _respond(http: HttpAnswer) -> JSONResponse:
    return JSONResponse(http.body, status_code=http.status, headers=http.headers or None)
