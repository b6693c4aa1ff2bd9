"""Request bodies read whole but never past a limit, and JSON values refused before any route
reads them: the one way every service caps bodies and screens what they carry.

FastAPI-free: give `read_capped` the body's chunks (`request.stream()`) and the declared
`Content-Length`; give `check_json_values` what a JSON parser returned.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterable
from typing import Any

from velocitas.errors import InvalidRequest, TooLarge

__all__ = ["check_json_values", "check_text", "read_capped"]

# NUL: PostgreSQL text and JSONB cannot hold it. A lone surrogate (a JSON "\ud800" with no
# partner) is no character at all: it cannot be written as UTF-8, so storing or echoing it fails.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


async def read_capped(
    chunks: AsyncIterable[bytes], *, limit: int, declared_length: str | None, setting: str
) -> bytes:
    """The body's bytes, or `TooLarge` (HTTP 413) as soon as it is known to pass `limit`: at
    once from a declared length, else while streaming (never more than `limit` bytes kept).
    `setting` names the limit's environment variable for the message."""
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > limit:
        raise TooLarge(_message(declared_length, limit, setting))
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise TooLarge(_message(f"more than {limit}", limit, setting))
    return bytes(body)


def _message(size: str, limit: int, setting: str) -> str:
    return f"the request body is {size} bytes; the limit is {limit} ({setting})"


def check_text(text: str, *, field: str, subject: str = "the text") -> None:
    """`InvalidRequest(field=field)` if `text` holds a NUL or a lone surrogate; the message
    starts with `subject`."""
    found = _UNSTORABLE.search(text)
    if found is not None:
        what = "a NUL character" if found.group() == "\x00" else "a lone surrogate"
        raise InvalidRequest(
            f"{subject} holds {what} at position {found.start()}, which no text can store",
            field=field,
        )


def check_json_values(value: Any, *, root: str = "body") -> None:
    """Refuse what Python's JSON parser lets through but no route can take: `NaN`, `Infinity`
    and numbers past float range (`1e309` reads as infinity), and strings (values or keys)
    holding a NUL or a lone surrogate. Raises `InvalidRequest` whose field is the value's path
    (`body.legs[0].symbol`), so the 422 names it, before any route stores or echoes the value."""
    stack: list[tuple[str, Any]] = [(root, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            check_text(item, field=path)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidRequest(
                    "must be a finite number (NaN, Infinity and numbers past 1.8e308 are not "
                    "JSON numbers)",
                    field=path,
                )
        elif isinstance(item, dict):
            for key, child in item.items():
                check_text(key, field=path, subject="a key")
                stack.append((f"{path}.{key}", child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
