"""Error responses: 422 bodies that name the field and the reason, and are always valid JSON."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError

__all__ = ["install_error_handlers", "json_response"]


def json_response(body: Any, status_code: int = 200) -> Response:
    """orjson-encoded JSON; numpy scalars and arrays are written natively (float32 as float32)."""
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status_code,
        media_type="application/json",
    )


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    # FastAPI's default handler echoes each bad input back; a NaN cannot be written as JSON,
    # and a client never needs its own megabyte back. Location, message and type say it all.
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    return json_response({"detail": problems}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
