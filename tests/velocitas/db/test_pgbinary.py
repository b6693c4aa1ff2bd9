"""Binary COPY decoding: every NUMERIC becomes exactly float(Decimal(text))."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from velocitas import jit
from velocitas.db import copy_out
from velocitas.db.copy_out import drain_copy
from velocitas.db.pgbinary import decode_bars

VALUES = [
    "0",
    "-0.00000000",
    "-1.5",
    "0.00000001",
    "20000.12345678",
    "123456789.12345678",  # 17 significant digits: the exact slow path
    "99999999999999999999.99999999",
    "1e30",
    "-1.2345e-26",
    "9007199254740993",  # 2**53 + 1: not a double
    "0.1",
    "12345678901234567890123456789012345678.5",
    "Infinity",
    "-Infinity",
    "5e-324",
]


@pytest.fixture(params=["compiled", "plain"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every decoding test runs both decoders: numba's, and the plain-Python one that a process
    without numba takes (`velocitas.jit`)."""
    if request.param == "plain":
        monkeypatch.setattr(jit, "compiling", lambda: False)
    return str(request.param)


def _copy_of(values: list[str]) -> str:
    rows = [values[i : i + 5] for i in range(0, len(values), 5)]
    selects = [
        "SELECT TIMESTAMPTZ '2024-01-01T00:00:00Z' + make_interval(mins => "
        + str(n)
        + "), "
        + ", ".join(f"'{v}'::numeric" for v in row)
        for n, row in enumerate(rows)
    ]
    return f"COPY ({' UNION ALL '.join(selects)} ORDER BY 1) TO STDOUT (FORMAT BINARY)"


def test_decode_bars_gives_the_nearest_double_of_every_numeric(
    database_url: str, decoder: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        opened_at, values = decode_bars(drain_copy(conn, _copy_of(VALUES)))
    expected = np.array([float(Decimal(v)) for v in VALUES]).reshape(-1, 5).T
    assert np.array_equal(values, expected)
    start = np.datetime64("2024-01-01T00:00:00", "ns").astype(np.int64)
    assert opened_at.tolist() == [start + i * 60_000_000_000 for i in range(3)]


def test_decode_bars_maps_numeric_nan_to_float_nan(database_url: str, decoder: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        _, values = decode_bars(drain_copy(conn, _copy_of(["NaN", "1", "2", "3", "4"])))
    assert np.isnan(values[0, 0])
    assert values[1:, 0].tolist() == [1, 2, 3, 4]


def test_decode_bars_empty_stream_gives_empty_columns(decoder: str) -> None:
    opened_at, values = decode_bars(b"")
    assert opened_at.shape == (0,)
    assert values.shape == (5, 0)


def test_decode_bars_refuses_a_stream_that_is_not_binary_copy(decoder: str) -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL binary COPY"):
        decode_bars(b"1\t2\n")


def test_decode_bars_refuses_rows_of_another_shape(database_url: str, decoder: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        buffer = drain_copy(conn, "COPY (SELECT 1, 2) TO STDOUT (FORMAT BINARY)")
    with pytest.raises(ValueError, match="malformed"):
        decode_bars(buffer)


_DECIMALS = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=8, allow_nan=False
) | st.decimals(allow_nan=False, allow_infinity=False).filter(lambda d: abs(d.adjusted()) < 300)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_DECIMALS, min_size=5, max_size=40).map(lambda v: v[: len(v) - len(v) % 5]))
def test_plain_and_compiled_decoders_agree_on_random_numerics(
    database_url: str, values: list[Decimal]
) -> None:
    """The plain-Python decoder gives the compiled one's floats, bit for bit: both are
    `float(Decimal)` of the stored value."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        buffer = drain_copy(conn, _copy_of([str(v) for v in values]))
    compiled = decode_bars(buffer)
    with mock.patch.object(jit, "compiling", return_value=False):
        plain = decode_bars(buffer)
    assert np.array_equal(plain[0], compiled[0])
    assert plain[1].tobytes() == compiled[1].tobytes()
    # array_equal: PostgreSQL stores -0 as 0, Decimal keeps the sign.
    assert np.array_equal(compiled[1], np.array([float(v) for v in values]).reshape(-1, 5).T)


def test_drain_copy_server_error_raises_and_leaves_the_connection_usable(
    database_url: str,
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        with pytest.raises(psycopg.DatabaseError, match="division by zero"):
            drain_copy(conn, "COPY (SELECT 1 / 0) TO STDOUT (FORMAT BINARY)")
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)


_SERIES = (
    "COPY (SELECT TIMESTAMPTZ 'epoch' + make_interval(mins => i), i::numeric / 7, "
    "i::numeric, -i::numeric, i * 1.5, 0.00000001 * i FROM generate_series(1, 3000) AS i "
    "ORDER BY 1) TO STDOUT (FORMAT BINARY)"
)


def test_drain_copy_native_and_python_loops_return_the_same_bytes(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        native = drain_copy(conn, _SERIES, size_hint=1, native=True)  # grows its buffer often
        python = drain_copy(conn, _SERIES, native=False)
        monkeypatch.setattr(copy_out, "_native", lambda: None)  # the loop cannot be built
        fallback = drain_copy(conn, _SERIES, native=True)
    assert native.size > 100_000
    assert native.tobytes() == python.tobytes() == fallback.tobytes()
    opened_at, values = decode_bars(native)
    assert opened_at.size == 3000
    assert values[4, -1] == float(Decimal("0.00003000"))


def test_drain_copy_uses_the_native_loop_on_linux() -> None:
    assert copy_out._native() is not None
