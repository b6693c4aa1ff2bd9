"""The oracle's JSON encoder: orjson, numpy values written natively."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

__all__ = ["json_response"]


def json_response(body: Any, status_code: int = 200) -> Response:
    """orjson-encoded JSON; numpy scalars and arrays are written natively (float32 as float32)."""
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status_code,
        media_type="application/json",
    )
