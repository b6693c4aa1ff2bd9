"""The platform's errors answered by a FastAPI app: the one installer the gateway, the analyst
and the oracle call, so the same error reads the same whichever service answers.

The mapping itself (status per error class, body shape) is `velocitas.http_errors`, which
imports no framework; this is the only module of `velocitas` that imports FastAPI (an
import-linter contract keeps it so), and only services that serve HTTP import it.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from velocitas.errors import VelocitasError
from velocitas.http_errors import HTTP_STATUS, HttpAnswer, answer, invalid_input

__all__ = ["install_error_handlers"]


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

    for error in HTTP_STATUS:
        app.add_exception_handler(error, platform_error)
    app.add_exception_handler(RequestValidationError, request_invalid)


def _respond(http: HttpAnswer) -> JSONResponse:
    return JSONResponse(http.body, status_code=http.status)
