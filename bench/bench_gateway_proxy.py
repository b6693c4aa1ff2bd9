"""The gateway under load: `POST /predict` straight to the oracle and through the gateway, and
another user's latency while wrong secrets for a known key prefix arrive (issue 12).

Real processes: PostgreSQL (embedded unless `DATABASE_URL`), one oracle and one gateway
(uvicorn, one worker each, uvloop + httptools), clients on raw keep-alive connections in this
process, on uvloop too (the load generator shares the machine's cores with both servers).
Prints, for each path, one connection's sequential p50/p99 and `--connections` connections'
throughput (the median of `--rounds` rounds, the paths taken in turn), then the ratios the
issue sets as goals (the gateway adds < 2 ms p50 and holds >= 80 % of the oracle's direct
throughput). Then the other user's `GET /backtests` loop alone and with 10 wrong-secret
requests/s from one client (`--flood-seconds` each).

    python bench/bench_gateway_proxy.py [--seconds 5] [--connections 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import orjson
import psycopg
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test kit's bundle factory

from tests.lab.factories import make_bundle
from tests.oracle.factories import bundle_record
from velocitas import embedded
from velocitas.db import migrate
from velocitas.db.accounts import create_user
from velocitas.db.engine import libpq_url, session_scope
from velocitas.db.models_registry import promote_model, register_model
from velocitas.features import FeatureSpec
from velocitas.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "velocitas_bench_gateway"
OBS_DIM = FeatureSpec().n_features + 1


def _bench_database() -> str:
    server = libpq_url(os.environ.get("DATABASE_URL") or embedded.database_url())
    base, _, query = server.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{DATABASE}" + (f"?{query}" if query else "")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    migrate.upgrade("head", database_url=url)
    return url


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (Linux): a figure the machine's other load
    does not inflate, unlike wall-clock latency on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _serving(app: str, port: int, env: dict[str, str], *factory: str) -> Iterator[int]:
    command = [
        sys.executable, "-m", "uvicorn", app, *factory, "--host", "127.0.0.1",
        "--port", str(port), "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)}
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise TimeoutError(f"{app} did not start")
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


def _request(method: str, path: str, port: int, key: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _one_response(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def _connection(
    port: int, request: bytes, until: float, latencies: list[float], statuses: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    clock = time.perf_counter
    while clock() < until:
        start = clock()
        writer.write(request)
        statuses.append(await _one_response(reader))
        latencies.append(clock() - start)
    writer.close()


def _load(port: int, request: bytes, connections: int, seconds: float) -> tuple[float, np.ndarray]:
    async def run() -> tuple[float, np.ndarray]:
        latencies: list[float] = []
        statuses: list[int] = []
        start = time.perf_counter()
        until = start + seconds
        await asyncio.gather(
            *(_connection(port, request, until, latencies, statuses) for _ in range(connections))
        )
        assert set(statuses) == {200}, sorted(set(statuses))
        return len(latencies) / (time.perf_counter() - start), np.array(latencies) * 1e3

    return uvloop.run(run())


def bench_proxy(
    ports: dict[str, int], pids: dict[str, int], key: str, args: argparse.Namespace
) -> None:
    """Sequential latency per path, then `--rounds` rounds of both paths' throughput taken in
    turn, so that the machine's drift (a shared VM) falls on both alike; medians reported."""
    state = np.random.default_rng(2).normal(0.0, 2.0, OBS_DIM).tolist()
    body = orjson.dumps({"state": state})
    paths = {"oracle direct": ports["oracle"], "through gateway": ports["gateway"]}
    requests = {name: _request("POST", "/predict", port, key, body) for name, port in paths.items()}
    processes = {**pids, "load generator": os.getpid()}
    one: dict[str, np.ndarray] = {}
    for name, port in paths.items():
        _load(port, requests[name], args.connections, 1.0)  # warm-up: every connection path
        one[name] = _load(port, requests[name], 1, args.seconds)[1]
    rates: dict[str, list[float]] = {name: [] for name in paths}
    cpus: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    many: dict[str, list[np.ndarray]] = {name: [] for name in paths}
    for _ in range(args.rounds):
        for name, port in paths.items():
            used = {who: _cpu_seconds(pid) for who, pid in processes.items()}
            rate, latencies = _load(port, requests[name], args.connections, args.seconds)
            done = rate * args.seconds
            cpus[name].append(
                {
                    who: (_cpu_seconds(pid) - used[who]) / done * 1e3
                    for who, pid in processes.items()
                }
            )
            rates[name].append(rate)
            many[name].append(latencies)
    cpu = {
        name: {who: float(np.median([c[who] for c in cpus[name]])) for who in processes}
        for name in paths
    }
    for name in paths:
        both = np.concatenate(many[name])
        print(
            f"{name:>16}: 1 connection p50 {np.percentile(one[name], 50):.3f} ms, "
            f"p99 {np.percentile(one[name], 99):.3f} ms | {args.connections} connections "
            f"{np.median(rates[name]):,.0f} req/s (rounds: "
            f"{', '.join(f'{r:,.0f}' for r in rates[name])}), p50 "
            f"{np.percentile(both, 50):.2f} ms, p99 {np.percentile(both, 99):.2f} ms | CPU per "
            f"request: oracle {cpu[name]['oracle']:.3f} ms, gateway {cpu[name]['gateway']:.3f} "
            f"ms, load generator {cpu[name]['load generator']:.3f} ms"
        )
    ratios = [g / d for d, g in zip(rates["oracle direct"], rates["through gateway"], strict=True)]
    added = np.percentile(one["through gateway"], 50) - np.percentile(one["oracle direct"], 50)
    oracle_cpu, gateway_cpu = cpu["oracle direct"]["oracle"], cpu["through gateway"]["gateway"]
    print(
        f"gateway adds {added:.3f} ms p50 (goal < 2); holds {np.median(ratios):.0%} of the "
        f"oracle's direct throughput (median of rounds {', '.join(f'{r:.0%}' for r in ratios)}; "
        f"goal >= 80 %); CPU-bound estimate (a core per process): the gateway's "
        f"{gateway_cpu:.3f} ms per request against the oracle's {oracle_cpu:.3f} ms caps it at "
        f"{min(1.0, oracle_cpu / gateway_cpu):.0%} of direct throughput"
    )


async def _flood(port: int, prefix_key: str, until: float, rate: float) -> list[int]:
    """Wrong secrets for `prefix_key`'s prefix, `rate` per second, each on its own connection."""
    codes: list[int] = []
    n = 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

        async def one(secret: str) -> None:
            headers = {"Authorization": f"Bearer {prefix_key[:12]}{secret}"}
            codes.append((await client.get("/backtests", headers=headers)).status_code)

        pending = []
        while time.perf_counter() < until:
            pending.append(asyncio.create_task(one(f"wrong{n:06d}".ljust(43, "x"))))
            n += 1
            await asyncio.sleep(1.0 / rate)
        await asyncio.gather(*pending)
    return codes


def bench_flood(gateway_port: int, victim_key: str, other_key: str, seconds: float) -> None:
    request = _request("GET", "/backtests", gateway_port, other_key)

    async def measure(flood: bool) -> tuple[np.ndarray, list[int]]:
        latencies: list[float] = []
        until = time.perf_counter() + seconds
        attack = (
            asyncio.create_task(_flood(gateway_port, victim_key, until, 10.0)) if flood else None
        )
        await _connection(gateway_port, request, until, latencies, [])
        codes = await attack if attack else []
        return np.array(latencies) * 1e3, codes

    _load(gateway_port, request, 1, 1.0)  # warm-up: the other user's key verified and cached
    for flood in (False, True):
        ms, codes = uvloop.run(measure(flood))
        counts = {code: codes.count(code) for code in sorted(set(codes))}
        print(
            f"other user's GET /backtests, {'with' if flood else 'without'} 10 wrong secrets/s: "
            f"p50 {np.percentile(ms, 50):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms "
            f"({len(ms)} requests){f'; flood answered {counts}' if flood else ''}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flood-seconds", type=float, default=10.0)
    args = parser.parse_args()
    url = _bench_database()
    with tempfile.TemporaryDirectory() as tmp:
        sha = make_bundle(Path(tmp) / "v1", seed=1)
        register_model(
            bundle_record(Path(tmp) / "v1", "v1", sha), settings=Settings(database_url=url)
        )
        promote_model("v1", settings=Settings(database_url=url))
        with session_scope(Settings(database_url=url)) as session:
            victim = create_user(session, "victim").api_key
            other = create_user(session, "other").api_key
        print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
        env = {"DATABASE_URL": url}
        oracle_port, gateway_port = 18_741, 18_740
        with _serving("oracle.app:create_app", oracle_port, env, "--factory") as oracle_pid:
            gateway_env = {**env, "ORACLE_URL": f"http://127.0.0.1:{oracle_port}"}
            with _serving("gateway.main:app", gateway_port, gateway_env) as gateway_pid:
                ports = {"oracle": oracle_port, "gateway": gateway_port}
                pids = {"oracle": oracle_pid, "gateway": gateway_pid}
                bench_proxy(ports, pids, other, args)
                bench_flood(gateway_port, victim, other, args.flood_seconds)


if __name__ == "__main__":
    main()
