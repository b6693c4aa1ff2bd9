"""The oracle's answers to the platform's errors, as `velocitas.http_errors` maps them, and its
JSON encoder."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError

from velocitas.errors import VelocitasError
from velocitas.http_errors import HTTP_STATUS, HttpAnswer, answer, invalid_input

__all__ = ["install_error_handlers", "json_response"]


def json_response(body: Any, status_code: int = 200) -> Response:
    """orjson-encoded JSON; numpy scalars and arrays are written natively (float32 as float32)."""
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status_code,
        media_type="application/json",
    )


def install_error_handlers(app: FastAPI) -> None:
    for error in HTTP_STATUS:
        app.add_exception_handler(error, _platform_error)
    app.add_exception_handler(RequestValidationError, _invalid_input)


async def _platform_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VelocitasError)
    return _respond(answer(exc))


async def _invalid_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _respond(invalid_input(exc.errors()))


def _respond(http: HttpAnswer) -> Response:
    return json_response(http.body, status_code=http.status)
