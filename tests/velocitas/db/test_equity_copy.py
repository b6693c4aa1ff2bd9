"""The client-built equity COPY stores exactly what PostgreSQL's own float8 -> text -> numeric
cast stores: same values, same display scale, same chunks."""

from __future__ import annotations

import struct
import uuid

import numpy as np
import psycopg
import pytest

from velocitas.db.equity_copy import client_encodable, copy_equity_chunks

_EDGES = [
    0.0, -0.0, 0.1, -0.1, 1.0, 100.0, 1e15, 1e16, 1e22, 1e23, 1e-7, 1.5e-7, 0.0001, 0.00001,
    5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
    1234567890123456.0, 4503599627370497.0, 0.30000000000000004,
    100034.5643913161, 99999.99999999999, 1e300, 1.5e300, -2.5, 10050.08827161,
]  # fmt: skip


def _sample() -> np.ndarray:
    rng = np.random.default_rng(11)
    walk = 100_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, 5000)))
    bits = rng.integers(0, 2**64, 5000, dtype=np.uint64).view(np.float64)
    bits = bits[np.isfinite(bits)]
    scaled = rng.normal(0, 1, 2000) * 10.0 ** rng.integers(-30, 30, 2000)
    cents = np.round(rng.uniform(-1e6, 1e6, 2000), 2)
    special = [np.nan, np.inf, -np.inf]
    values = np.concatenate([_EDGES, walk, bits, scaled, cents, special])
    return values[~np.isfinite(values) | (np.abs(values) < 2.0**53)]


def _stage(conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE TEMP TABLE stage (job_id uuid, chunk int4, opened_at timestamptz[],"
        " equity numeric[])"
    )


def test_copy_equity_chunks_matches_the_servers_exact_cast(database_url: str) -> None:
    values = _sample()
    stamps = 1_700_000_000_000_000_000 + np.arange(len(values), dtype=np.int64) * 60_000_000_000
    job_id = uuid.uuid4()
    stream = copy_equity_chunks(job_id, stamps, values, 1000)
    with psycopg.connect(database_url) as conn:
        _stage(conn)
        with conn.cursor().copy("COPY stage FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(stream)
        stored = conn.execute(
            "SELECT job_id, chunk, e.v::text, a.t"
            " FROM stage, unnest(equity, opened_at) WITH ORDINALITY AS e(v, t, i),"
            " LATERAL (SELECT extract(epoch FROM e.t)::numeric * 1e6 AS t) a"
            " ORDER BY chunk, i"
        ).fetchall()
        conn.execute("SET extra_float_digits = 1")
        expected = conn.execute(
            "SELECT v::text::numeric::text FROM unnest(%s::float8[]) WITH ORDINALITY AS u(v, i)"
            " ORDER BY i",
            ([float(v) for v in values],),
        ).fetchall()
    assert {row[0] for row in stored} == {job_id}
    assert [row[1] for row in stored] == [i // 1000 for i in range(len(values))]
    assert [row[2] for row in stored] == [row[0] for row in expected]
    assert [int(row[3]) for row in stored] == (stamps // 1000).tolist()


@pytest.mark.parametrize("value", [2.0**53, -1e23, 2.333723950794741e16])
def test_client_encodable_leaves_huge_integers_to_the_server(value: float) -> None:
    # Where PostgreSQL's float8 output is not the shortest round trip (see the module).
    assert client_encodable(np.array([1.0, np.inf, np.nan, 2.0**53 - 1]))
    assert not client_encodable(np.array([1.0, value]))


def test_copy_equity_chunks_keeps_the_display_scale_of_the_cast(database_url: str) -> None:
    stream = copy_equity_chunks(
        uuid.uuid4(), np.zeros(5, dtype=np.int64), np.array([0.5, 100.0, 1.5e-7, 1e16, -0.0]), 10
    )
    with psycopg.connect(database_url) as conn:
        _stage(conn)
        with conn.cursor().copy("COPY stage FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(stream)
        row = conn.execute("SELECT equity::text FROM stage").fetchone()
    assert row == ("{0.5,100,0.00000015,10000000000000000,0}",)


def test_copy_equity_chunks_splits_into_whole_chunks() -> None:
    stream = copy_equity_chunks(uuid.uuid4(), np.zeros(10, dtype=np.int64), np.ones(10), 4)
    # header (19) then rows, each starting with its field count (4) and the 16-byte uuid
    offset, chunks = 19, []
    while struct.unpack_from(">h", stream, offset)[0] == 4:
        offset += 2 + 4 + 16 + 4
        chunks.append(struct.unpack_from(">i", stream, offset)[0])
        offset += 4
        for _ in range(2):
            offset += 4 + struct.unpack_from(">i", stream, offset)[0]
    assert chunks == [0, 1, 2]
    assert stream[offset:] == b"\xff\xff"


def test_copy_equity_chunks_refuses_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="3 equity instants but 2"):
        copy_equity_chunks(uuid.uuid4(), np.zeros(3, dtype=np.int64), np.ones(2), 4)
