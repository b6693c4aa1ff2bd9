"""The gateway's answers to the platform's errors, as `velocitas.http_errors` maps them."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from velocitas.errors import VelocitasError
from velocitas.http_errors import HTTP_STATUS, HttpAnswer, answer, invalid_input


def install(app: FastAPI) -> None:
    for error in HTTP_STATUS:
        app.add_exception_handler(error, _platform_error)
    app.add_exception_handler(RequestValidationError, _invalid_input)


async def _platform_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VelocitasError)
    return _respond(answer(exc))


async def _invalid_input(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _respond(invalid_input(exc.errors()))


def _respond(http: HttpAnswer) -> JSONResponse:
    return JSONResponse(http.body, status_code=http.status)
