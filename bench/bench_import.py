"""Bar import throughput: our `velocitas data import` path against psycopg `executemany`.

Generates N synthetic 1m bars with `velocitas.synth` into a CSV, then in this one process:
  (a) `velocitas.ingest.import_bars` on the file: parse, validate, COPY, upsert (one transaction);
  (b) psycopg `executemany` in pipeline mode inserting the same rows (same text values) into
      `bar` under another symbol with a plain INSERT (no validation, no upsert: the peer's
      best case), the usual way to load rows from Python.
Both run against a dedicated database (`velocitas_bench_import`) on the embedded PostgreSQL,
created fresh each run, so user data is never touched.

    python bench/bench_import.py [--rows 1000000] [--peer-rows 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psycopg
import pyarrow.csv as pa_csv

from velocitas import embedded
from velocitas.db import migrate
from velocitas.db.engine import libpq_url
from velocitas.domain.timeframe import Timeframe
from velocitas.ingest import import_bars
from velocitas.synth import synth_bars, write_csv

DATABASE = "velocitas_bench_import"


def _bench_database() -> str:
    server = libpq_url(embedded.database_url())
    base, _, query = server.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{DATABASE}" + (f"?{query}" if query else "")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    migrate.upgrade("head", database_url=url)
    return url


def _ours(path: Path, url: str) -> tuple[float, dict[str, float]]:
    marks: dict[str, float] = defaultdict(float)
    last = [time.perf_counter(), "read"]

    def progress(phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        marks[str(last[1])] += now - float(last[0])
        last[0], last[1] = now, phase

    start = time.perf_counter()
    summary = import_bars(path, symbol="OURS", timeframe="1m", database_url=url, progress=progress)
    elapsed = time.perf_counter() - start
    marks[str(last[1])] += time.perf_counter() - float(last[0])
    assert summary.inserted == summary.read, summary
    return elapsed, dict(marks)


def _executemany(path: Path, url: str, rows: int) -> float:
    table = pa_csv.read_csv(
        path,
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(
                ["opened_at", "open", "high", "low", "close", "volume"], "string"
            )
        ),
    ).slice(0, rows)
    records = [
        ("PEER", "1m", *values)
        for values in zip(*(table.column(i).to_pylist() for i in range(6)), strict=True)
    ]
    start = time.perf_counter()
    with psycopg.connect(url) as conn, conn.pipeline(), conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO bar (symbol, timeframe, opened_at, open, high, low, close, volume)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            records,
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--peer-rows",
        type=int,
        default=200_000,
        help="rows for executemany (slow; its rate is per row either way)",
    )
    args = parser.parse_args()
    url = _bench_database()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bars.csv"
        started = time.perf_counter()
        write_csv(synth_bars(args.rows, Timeframe.M1, seed=7), path)
        print(
            f"synth: {args.rows:,} bars to CSV ({path.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - started:.2f} s"
        )
        ours, phases = _ours(path, url)
        started = time.perf_counter()
        again = import_bars(path, symbol="OURS", timeframe="1m", database_url=url)
        reimport = time.perf_counter() - started
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, args.rows), again
        peer_rows = min(args.peer_rows, args.rows)
        peer = _executemany(path, url, peer_rows)
    our_rate = args.rows / ours
    peer_rate = peer_rows / peer
    print(
        f"ours (import_bars):        {args.rows:>9,} rows in {ours:6.2f} s = "
        f"{our_rate:>9,.0f} rows/s"
    )
    print("  phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()))
    print(
        f"ours, same file again:     {args.rows:>9,} rows in {reimport:6.2f} s = "
        f"{args.rows / reimport:>9,.0f} rows/s (0 inserted, 0 updated)"
    )
    print(
        f"psycopg executemany+pipe:  {peer_rows:>9,} rows in {peer:6.2f} s = "
        f"{peer_rate:>9,.0f} rows/s"
    )
    print(f"ratio ours / executemany:  {our_rate / peer_rate:.1f}x")


if __name__ == "__main__":
    main()
