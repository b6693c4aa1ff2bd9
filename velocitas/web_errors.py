"""The platform's errors answered by a FastAPI app: the one installer the gateway, the analyst
and the oracle call, so the same error reads the same whichever service answers, and the same
bad input is refused the same way whichever service receives it.

The mapping itself (status per error class, body shape) is `velocitas.http_errors`, which
imports no framework; this is the only module of `velocitas` that imports FastAPI (an
import-linter contract keeps it so), and only services that serve HTTP import it.

A database or Redis that cannot be reached answers 503 with `Retry-After` wherever its error
surfaces (`velocitas.http_errors.unavailable`); the error's own text goes to this module's log.
"""

from __future__ import annotations

import logging

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.requests import HTTPConnection
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from velocitas.errors import VelocitasError
from velocitas.http_errors import (
    DEPENDENCY_DOWN,
    HTTP_STATUS,
    HttpAnswer,
    answer,
    invalid_input,
    unavailable,
)
from velocitas.request_body import check_json_values, check_text

__all__ = ["install_error_handlers"]

log = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI, *, root: str = "body") -> None:
    """Answer every mapped platform error and every request validation error of `app`, and
    refuse on every route, before the route's own validation, the values no route can take
    (`velocitas.request_body.check_json_values`, NUL in query parameters). `root` locates an
    `InvalidRequest` whose field names no part of the request (the analyst's requests are
    queries, so it passes "query").

    Call it before including any router: the screening applies to the routes added after it."""
    if any(isinstance(route, APIRoute) for route in app.routes):
        raise RuntimeError("install_error_handlers must run before any router is included")

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
    app.router.dependencies.append(Depends(_screen_input))


async def _screen_input(connection: HTTPConnection) -> None:
    """Runs before every route's other dependencies and before its body is validated. A
    WebSocket (which reads no query and no body here) is left to its route."""
    if not isinstance(connection, Request):
        return
    for name, value in connection.query_params.multi_items():
        check_text(value, field=f"query.{name}")
    route = connection.scope.get("route")
    # Only a body FastAPI parsed as JSON already (`request.json()` is then cached): a route
    # that reads its own body (streamed, capped) is left to do so.
    if (
        isinstance(route, APIRoute)
        and route.body_field is not None
        and _is_json(connection)
        and await connection.body()
    ):
        check_json_values(await connection.json())


def _is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


def _respond(http: HttpAnswer) -> JSONResponse:
    return JSONResponse(http.body, status_code=http.status, headers=http.headers or None)
