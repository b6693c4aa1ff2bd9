"""Bar loading: `velocitas.db.bars.load_bars` against `pandas.read_sql` on the same rows.

Creates a dedicated database (`velocitas_bench_load`) on the embedded PostgreSQL (or the server
of `DATABASE_URL`), so user data is never touched, and COPYs N one-minute bars with 8-decimal
NUMERIC prices into it. Then, in this one process and on the same rows:
  (a) `load_bars` (binary COPY → numpy), best and median of `--repeat` runs; also forced onto
      one connection, to show what the two-connection split brings;
  (b) `pandas.read_sql` of the same SELECT through SQLAlchemy + psycopg (Decimal → float64);
  (c) plain psycopg `SELECT … fetchall()` into Decimal tuples (what an ORM-style path costs);
and checks that (a) and (b) return bit-identical float64 values.

    python bench/bench_load.py [--rows 1000000] [--repeat 5] [--peer-repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from sqlalchemy import create_engine

from velocitas import embedded
from velocitas.db import bars, migrate
from velocitas.db.engine import libpq_url, sqlalchemy_url

DATABASE = "velocitas_bench_load"
SYMBOL = "BENCHUSDT"
QUERY = (
    "SELECT opened_at, open, high, low, close, volume FROM bar "
    f"WHERE symbol = '{SYMBOL}' AND timeframe = '1m' ORDER BY opened_at"
)


def _bench_database() -> tuple[str, str]:
    server = libpq_url(embedded.database_url())
    base, _, query = server.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{DATABASE}" + (f"?{query}" if query else "")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    migrate.upgrade("head", database_url=url)
    return server, url


def _fixed8(units: np.ndarray) -> list[str]:
    """Integers of 1e-8 as 8-decimal strings ("20000.12345678")."""
    whole, frac = np.divmod(units, 100_000_000)
    return [f"{w}.{f:08d}" for w, f in zip(whole.tolist(), frac.tolist(), strict=True)]


def _insert(url: str, rows: int) -> None:
    rng = np.random.default_rng(42)
    close = 2_000_000_000_000 + np.cumsum(rng.integers(-5_000_000, 5_000_001, rows))
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) + rng.integers(0, 3_000_000, rows)
    low = np.minimum(open_, close) - rng.integers(0, 3_000_000, rows)
    volume = rng.integers(0, 50_000_000_000, rows)
    columns = [_fixed8(c) for c in (open_, high, low, close, volume)]
    start = 1_577_836_800  # 2020-01-01T00:00:00Z
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY bar (symbol, timeframe, opened_at, open, high, low, close, volume) FROM STDIN"
        ) as copy:
            chunk: list[str] = []
            for i in range(rows):
                opened_at = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(start + 60 * i))
                chunk.append(
                    f"{SYMBOL}\t1m\t{opened_at}\t{columns[0][i]}\t{columns[1][i]}\t"
                    f"{columns[2][i]}\t{columns[3][i]}\t{columns[4][i]}\n"
                )
                if len(chunk) == 50_000:
                    copy.write("".join(chunk))
                    chunk.clear()
            copy.write("".join(chunk))
        conn.execute("ANALYZE bar")


def _timed(run: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--peer-repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    server, url = _bench_database()
    started = time.perf_counter()
    _insert(url, args.rows)
    print(f"inserted {args.rows:,} bars with COPY in {time.perf_counter() - started:.1f} s")

    bars.load_bars(SYMBOL, "1m", database_url=url)  # warm-up: numba kernels, server cache
    ours_times, ours = _timed(lambda: bars.load_bars(SYMBOL, "1m", database_url=url), args.repeat)
    parallel_from, bars.PARALLEL_MIN_BARS = bars.PARALLEL_MIN_BARS, args.rows + 1
    single_times, single = _timed(
        lambda: bars.load_bars(SYMBOL, "1m", database_url=url), args.repeat
    )
    bars.PARALLEL_MIN_BARS = parallel_from
    assert single.equals(ours)

    engine = create_engine(sqlalchemy_url(url))
    pandas_times, frame = _timed(lambda: pd.read_sql(QUERY, engine), args.peer_repeat)
    engine.dispose()

    def fetch_decimals() -> int:
        with psycopg.connect(url) as conn:
            return len(conn.execute(QUERY).fetchall())

    decimal_times, _ = _timed(fetch_decimals, args.peer_repeat)

    assert len(ours) == len(frame) == args.rows
    for name in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(ours, name), frame[name].to_numpy(np.float64)), name
    expected_ns = frame["opened_at"].dt.tz_convert("UTC").dt.as_unit("ns").astype("int64")
    assert np.array_equal(ours.opened_at, expected_ns.to_numpy())

    best, median = min(ours_times), statistics.median(ours_times)
    print(f"rows: {args.rows:,} one-minute bars, NUMERIC with 8 decimals")
    print(f"load_bars (binary COPY -> numpy)   best {best:.3f} s   median {median:.3f} s")
    print(
        f"  the same on one connection        best {min(single_times):.3f} s   "
        f"median {statistics.median(single_times):.3f} s"
    )
    for label, times in (
        ("pandas.read_sql (SQLAlchemy)     ", pandas_times),
        ("psycopg SELECT -> Decimal tuples ", decimal_times),
    ):
        peer_best = min(times)
        print(
            f"{label}  best {peer_best:.3f} s   median {statistics.median(times):.3f} s"
            f"   load_bars is {peer_best / best:.1f}x faster (best vs best)"
        )
    print("values: load_bars == pandas.read_sql, bit for bit")

    if not args.keep:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    main()
