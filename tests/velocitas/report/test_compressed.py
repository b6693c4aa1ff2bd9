"""`gzip_report`: one gzip member that decompresses to the page, with plotly.js compressed once."""

from __future__ import annotations

import gzip
import zlib

import pytest

from velocitas.report import gzip_report
from velocitas.report.html import plotly_js


def _single_member(data: bytes) -> bytes:
    # What browsers and httpx do: read one gzip member and stop.
    reader = zlib.decompressobj(zlib.MAX_WBITS | 16)
    page = reader.decompress(data) + reader.flush()
    assert reader.eof
    assert reader.unused_data == b""
    return page


@pytest.mark.parametrize(
    "page",
    [
        "<!DOCTYPE html><title>Backtest: é</title><script>{}</script><p>Trades (3)</p>",
        "<html>no script at all</html>",
        "",
    ],
)
def test_gzip_report_is_one_member_that_gives_the_page_back(page: str) -> None:
    encoded = page.format(plotly_js()).encode() if "{}" in page else page.encode()
    packed = gzip_report(encoded)
    assert _single_member(packed) == encoded
    assert gzip.decompress(packed) == encoded


def test_gzip_report_same_page_same_bytes_and_pages_share_the_plotly_part() -> None:
    first = f"<head><title>one</title><script>{plotly_js()}</script></head>".encode()
    second = f"<head><title>two, longer</title><script>{plotly_js()}</script></head>".encode()
    assert gzip_report(first) == gzip_report(first)
    assert _single_member(gzip_report(second)) == second
    assert len(gzip_report(first)) < len(plotly_js()) // 2  # compressed, not stored
