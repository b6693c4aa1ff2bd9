"""Request bodies read whole, never past their limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from velocitas.errors import InvalidRequest, TooLarge
from velocitas.request_body import check_json_values, read_capped


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


@pytest.mark.parametrize(
    ("value", "field", "reason"),
    [
        ({"a": [1.0, float("nan")]}, "body.a[1]", "finite number"),
        ({"a": {"b": float("inf")}}, "body.a.b", "finite number"),
        ({"a": -float("inf")}, "body.a", "finite number"),
        ({"legs": [{"symbol": "BTC\x00"}]}, "body.legs[0].symbol", "NUL character at position 3"),
        ({"q": "\ud800"}, "body.q", "lone surrogate at position 0"),
        ({"params": {"k\x00": 1}}, "body.params", "a key holds a NUL"),
    ],
)
def test_check_json_values_refuses_what_json_cannot_mean_naming_the_path(
    value: object, field: str, reason: str
) -> None:
    with pytest.raises(InvalidRequest, match=reason) as refused:
        check_json_values(value)
    assert refused.value.field == field


def test_check_json_values_passes_ordinary_json() -> None:
    check_json_values({"a": [1, 2.5, "text ü €", None, True, {"b": "😀"}]})
