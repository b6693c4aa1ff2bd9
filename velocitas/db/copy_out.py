"""`COPY … TO STDOUT`, pulled off libpq without a Python call per row.

PostgreSQL sends one protocol message per row; psycopg's `Copy.read()` spends a generator
round trip on each, more than the server spends producing it. Here a numba loop calls libpq's
`PQgetCopyData` in blocking mode and copies every message into one numpy buffer, with the GIL
released (two connections can drain in parallel threads). It uses the very libpq the process
already loaded for psycopg (found in `/proc/self/maps`), on psycopg's own connection handle.
Where that is not possible (not Linux, or an ambiguous libpq), a plain Python loop on psycopg's
`pgconn` does the same job more slowly.

Either way the connection is left as it was (idle, or in its transaction); a server error is
raised as `psycopg.DatabaseError`.
"""

from __future__ import annotations

import ctypes
import select
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import pq

from velocitas import jit

__all__ = ["NATIVE_MIN_BYTES", "drain_copy", "stream_copy"]

Pump = Callable[[int, npt.NDArray[np.uint8], int, npt.NDArray[np.int64]], tuple[int, int]]


class _Native(NamedTuple):
    pump: Pump
    memcpy: Any  # ctypes functions, also called from Python for a message that did not fit
    free: Any


def drain_copy(
    conn: psycopg.Connection[Any],
    statement: str,
    *,
    size_hint: int = 1 << 20,
    native: bool | None = None,
) -> npt.NDArray[np.uint8]:
    """Run `COPY (…) TO STDOUT` and return every byte it sent as one uint8 array.

    `size_hint` (bytes) sizes the first buffer; it grows by half as often as needed.
    `native`: True takes the native loop where it can be built, False the Python loop; None
    (default) takes the native loop for a read expected at `NATIVE_MIN_BYTES` or more, or once
    this process has built it. Building it (numba, not cacheable) costs more than the Python
    loop spends on fewer rows, so a one-shot command reading a few thousand bars never does.
    """
    if native is None:
        native = size_hint >= NATIVE_MIN_BYTES or _built
    loop = _native() if native else None
    if loop is None:
        collected = bytearray()
        stream_copy(conn, statement, collected.extend)
        return np.frombuffer(collected, dtype=np.uint8)
    pgconn = conn.pgconn
    handle = int(cast(Any, pgconn).pgconn_ptr)  # PGconn*, public on psycopg's pq.PGconn
    _start(pgconn, statement)
    out = np.empty(max(size_hint, 64), dtype=np.uint8)
    used = 0
    pending = np.zeros(2, dtype=np.int64)  # (pointer, length) of a message that did not fit
    while True:
        status, used = loop.pump(handle, out, used, pending)
        if status != _NEED_ROOM:
            break
        grown = np.empty(max(out.size * 3 // 2, used + int(pending[1])), dtype=np.uint8)
        grown[:used] = out[:used]
        out = grown
        length = int(pending[1])
        loop.memcpy(out.ctypes.data + used, int(pending[0]), length)
        loop.free(int(pending[0]))
        used += length
    _finish(pgconn)
    return out[:used]


def stream_copy(
    conn: psycopg.Connection[Any], statement: str, sink: Callable[[memoryview], object]
) -> None:
    """Run `COPY (…) TO STDOUT`, handing each message (one row) to `sink` as it arrives."""
    pgconn = conn.pgconn
    _start(pgconn, statement)
    socket = pgconn.socket
    get_copy_data = pgconn.get_copy_data
    while True:
        nbytes, data = get_copy_data(1)
        if nbytes > 0:
            sink(data)
        elif nbytes == 0:  # would block: wait for the server, then let libpq read
            select.select([socket], [], [])
            pgconn.consume_input()
        else:
            break
    _finish(pgconn)


def _start(pgconn: pq.abc.PGconn, statement: str) -> None:
    pgconn.send_query(statement.encode())
    result = pgconn.get_result()
    if result is None or result.status != pq.ExecStatus.COPY_OUT:
        _raise_from(result, pgconn)


def _finish(pgconn: pq.abc.PGconn) -> None:
    result = pgconn.get_result()
    if result is None or result.status != pq.ExecStatus.COMMAND_OK:
        _raise_from(result, pgconn)
    while pgconn.get_result() is not None:  # back to idle
        pass


def _raise_from(result: pq.abc.PGresult | None, pgconn: pq.abc.PGconn) -> None:
    while pgconn.get_result() is not None:
        pass
    raw = result.error_message if result is not None else pgconn.error_message
    raise psycopg.DatabaseError(raw.decode(errors="replace").strip() or "COPY failed")


# ---------------------------------------------------------------------------------------------
# The native loop

_DONE = -1  # PQgetCopyData: the COPY is complete
_NEED_ROOM = 1

NATIVE_MIN_BYTES = 8 << 20
"""A read expected to be smaller than this (~70k bars) takes the Python loop unless the native
one is built already: compiling it takes about a second, the Python loop ~1.5 s a million rows."""


def _loaded_libpq() -> str | None:
    """Path of the one libpq mapped into this process, if exactly one is."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return None
    paths = {
        line.split()[-1]
        for line in maps.read_text().splitlines()
        if "/libpq" in line and ".so" in line
    }
    return paths.pop() if len(paths) == 1 else None


_built = False  # whether this process has built the native loop (then it always uses it)


@cache
def _native() -> _Native | None:
    global _built
    if not jit.compiling():
        return None  # a small run in plain Python: psycopg's own reads are fast enough
    import numba  # here, not at the top: processes that only stream (the gateway) skip it

    psycopg.pq.version()  # make sure psycopg's libpq is loaded before looking for it
    path = _loaded_libpq()
    if path is None:
        return None
    try:
        libpq = ctypes.CDLL(path)
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    get_copy_data = libpq.PQgetCopyData
    get_copy_data.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    get_copy_data.restype = ctypes.c_int
    free = libpq.PQfreemem
    free.argtypes = [ctypes.c_void_p]
    free.restype = None
    memcpy = libc.memcpy
    memcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    memcpy.restype = ctypes.c_void_p

    # Not cached to disk: it embeds this process's function addresses.
    @numba.njit(nogil=True)
    def pump(
        pgconn: int, out: npt.NDArray[np.uint8], used: int, pending: npt.NDArray[np.int64]
    ) -> tuple[int, int]:
        """Copy messages into `out[used:]` until the COPY ends (returns PQgetCopyData's -1
        or -2) or a message does not fit (returns 1, message left in `pending`)."""
        while True:
            length = get_copy_data(pgconn, pending.ctypes.data, 0)  # 0: block until a row
            if length < 0:
                return length, used
            if used + length > out.size:
                pending[1] = length
                return _NEED_ROOM, used
            memcpy(out.ctypes.data + used, pending[0], length)
            free(pending[0])
            used += length

    _built = True
    return _Native(pump, memcpy, free)
