"""A request body read whole, but never past a limit: the one way every service caps bodies.

FastAPI-free: give it the body's chunks (`request.stream()`) and the declared `Content-Length`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from velocitas.errors import TooLarge

__all__ = ["read_capped"]


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
