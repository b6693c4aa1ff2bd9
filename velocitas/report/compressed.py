"""The HTML report gzip-compressed in a fraction of gzip's time: plotly.js, 4.7 MB of every
page, is compressed once per process.

A page is the text before plotly.js, plotly.js, and the text after it. Each part is compressed
to raw deflate by a fresh compressor and closed with a full flush (byte-aligned, nothing
referring back into an earlier part), so the three join into one valid deflate stream, the
way pigz joins its blocks; the middle one is computed once and reused. A gzip header (mtime 0)
and trailer (the whole page's CRC-32 and length) wrap them: one gzip member, which every
client reads, and the same page gives the same bytes.
"""

from __future__ import annotations

import struct
import zlib
from functools import cache

from velocitas.report.html import plotly_js

__all__ = ["gzip_report"]

_LEVEL = 6  # zlib's default: past it the page hardly shrinks for the time spent
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no flags, mtime 0, OS unknown


def gzip_report(page: bytes) -> bytes:
    """`page` (a `render_html` page, encoded as UTF-8) as one gzip member."""
    constant = _plotly_bytes()
    before, found, after = page.partition(constant)
    if not found:  # not a page that inlines plotly.js: compressed whole
        return _HEADER + _deflate(page, zlib.Z_FINISH) + _trailer(page)
    body = _deflate(before, zlib.Z_FULL_FLUSH) + _plotly_deflated() + _deflate(after, zlib.Z_FINISH)
    return _HEADER + body + _trailer(page)


def _deflate(data: bytes, mode: int) -> bytes:
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(mode)


def _trailer(page: bytes) -> bytes:
    return struct.pack("<II", zlib.crc32(page), len(page) & 0xFFFFFFFF)


@cache
def _plotly_bytes() -> bytes:
    return plotly_js().encode()


@cache
def _plotly_deflated() -> bytes:
    return _deflate(_plotly_bytes(), zlib.Z_FULL_FLUSH)
