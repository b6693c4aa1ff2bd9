"""Request bodies read whole, never past their limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from velocitas.errors import TooLarge
from velocitas.request_body import read_capped


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _read(*parts: bytes, limit: int, declared: str | None = None) -> bytes:
    return asyncio.run(
        read_capped(_chunks(*parts), limit=limit, declared_length=declared, setting="LIMIT")
    )


def test_read_capped_joins_a_body_within_the_limit() -> None:
    assert _read(b"ab", b"cd", limit=4) == b"abcd"


def test_read_capped_refuses_a_declared_length_over_the_limit_before_reading() -> None:
    with pytest.raises(TooLarge, match="is 5 bytes; the limit is 4 \\(LIMIT\\)"):
        _read(limit=4, declared="5")


def test_read_capped_refuses_a_streamed_body_as_it_passes_the_limit() -> None:
    with pytest.raises(TooLarge, match="more than 4 bytes"):
        _read(b"abc", b"de", limit=4, declared=None)
