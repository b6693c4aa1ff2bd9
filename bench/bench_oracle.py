"""Oracle serving: inference in-process against stable-baselines3's `model.predict`, and over
HTTP with a load generator on this machine.

Builds a stable-baselines3 PPO (MlpPolicy, net_arch [64, 64], tanh, Discrete(3), the lab's
observation size), writes its weights as a lab bundle, registers and promotes it in a dedicated
database (`velocitas_bench_oracle`) on the embedded PostgreSQL (or the server of DATABASE_URL),
then, in this one process:

  (a) one state, per call: the oracle's compiled kernel, the oracle's whole handler work (list ->
      array, kernel, response JSON), `velocitas.agent.policy`'s numpy forward, a raw torch
      forward of the same network, and SB3's `model.predict(obs, deterministic=True)` (after the
      same VecNormalize transform); actions are checked equal on 2,000 random states;
  (b) a real `uvicorn oracle.app:create_app --factory` (uvloop, httptools) with 1 and 2 worker
      processes: single-state latency over loopback (one connection, sequential), throughput
      with `--connections` concurrent keep-alive connections, and batch throughput.

    python bench/bench_oracle.py [--seconds 5] [--connections 16] [--batch 256] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gymnasium as gym
import httpx
import numpy as np
import orjson
import psycopg
import torch
from stable_baselines3 import PPO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test kit's torch actor

from lab.bundle import write_bundle
from oracle.bundles import load_served_model
from oracle.responses import json_response
from tests.support.torch_policy import read_torch_policy
from velocitas import embedded
from velocitas.agent.contract import ObservationNormalization
from velocitas.agent.policy import read_policy
from velocitas.db import migrate
from velocitas.db.accounts import create_user
from velocitas.db.engine import libpq_url, session_scope
from velocitas.db.models_registry import ModelRecord, promote_model, register_model
from velocitas.features import FeatureSpec
from velocitas.settings import Settings

DATABASE = "velocitas_bench_oracle"
ROOT = Path(__file__).resolve().parents[1]
SPEC = FeatureSpec()
OBS_DIM = SPEC.n_features + 1


class _Spaces(gym.Env[np.ndarray, int]):
    """Only the spaces: PPO needs an env to build its policy."""

    observation_space = gym.spaces.Box(-10.0, 10.0, (OBS_DIM,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        return np.zeros(OBS_DIM, np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        return np.zeros(OBS_DIM, np.float32), 0.0, True, False, {}


def _bench_database() -> str:
    server = libpq_url(os.environ.get("DATABASE_URL") or embedded.database_url())
    base, _, query = server.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{DATABASE}" + (f"?{query}" if query else "")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    migrate.upgrade("head", database_url=url)
    return url


def _sb3_model_and_bundle(root: Path, url: str) -> tuple[PPO, dict[str, Any], ModelRecord]:
    torch.manual_seed(0)
    model = PPO(
        "MlpPolicy",
        _Spaces(),
        policy_kwargs={"net_arch": [64, 64], "activation_fn": torch.nn.Tanh},
        device="cpu",
        seed=0,
    )
    with torch.no_grad():  # SB3 initialises the action head near zero: make actions vary
        model.policy.action_net.weight.mul_(100.0)
    rng = np.random.default_rng(0)
    normalization = {
        "kind": "VecNormalize",
        "mean": rng.normal(0, 0.1, OBS_DIM).tolist(),
        "var": rng.uniform(0.5, 1.5, OBS_DIM).tolist(),
        "count": 1000.0,
        "clip_obs": 10.0,
        "epsilon": 1e-8,
        "norm_obs": True,
        "norm_reward": False,
    }
    policy = {
        "obs_dim": OBS_DIM,
        "net_arch": [64, 64],
        "activation": "tanh",
        "action": {"kind": "discrete", "n": 3},
    }
    path = root / "bench-v1"
    sha = write_bundle(
        path,
        state_dict=model.policy.state_dict(),
        normalization=normalization,
        feature_spec={"spec": SPEC.to_dict(), "spec_hash": SPEC.spec_hash()},
        config={"policy": policy, "execution": {"allow_short": False}},
        versions={"torch": torch.__version__},
        training={},
    )
    at = datetime(2024, 1, 1, tzinfo=UTC)
    settings = Settings(database_url=url)
    record = ModelRecord(
        version="bench-v1", symbol="BENCH", timeframe="1h", path=str(path), sha256=sha,
        feature_spec_hash=SPEC.spec_hash(), data_snapshot_hash="0" * 64, train_start=at,
        train_end=at, validate_start=at, validate_end=at, metrics={},
    )  # fmt: skip
    register_model(record, settings)
    promote_model("bench-v1", settings)
    return model, normalization, record


def _per_call_us(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    for _ in range(min(1000, calls)):
        fn()
    times = np.empty(calls)
    clock = time.perf_counter_ns
    for i in range(calls):
        start = clock()
        fn()
        times[i] = clock() - start
    return float(np.percentile(times, 50)) / 1e3, float(np.percentile(times, 99)) / 1e3


def bench_in_process(model: PPO, normalization: dict[str, Any], record: ModelRecord) -> None:
    served = load_served_model(record)
    compiled = served.compiled
    numpy_policy = read_policy(record.path, record.sha256)
    torch_policy = read_torch_policy(Path(record.path), record.sha256)
    torch.set_num_threads(1)
    normalize = ObservationNormalization.from_document(normalization).apply  # as VecNormalize

    states = np.random.default_rng(1).normal(0.0, 2.0, (2000, OBS_DIM))
    sb3_actions, _ = model.predict(normalize(states), deterministic=True)
    ours = compiled.run(states)
    mismatches = int((np.asarray(sb3_actions) != ours.actions).sum())
    print(f"actions: SB3 model.predict vs oracle kernel on 2000 states: {mismatches} differ")
    print(f"  (actions used: {np.bincount(ours.actions, minlength=3).tolist()})")

    one = states[:1].copy()
    as_list = one[0].tolist()
    network = torch_policy.network
    tensor = torch.from_numpy(normalize(one))

    def handler_work() -> object:
        prediction = compiled.run(np.array([as_list], dtype=np.float64))
        return json_response(
            {
                "action": prediction.actions[0],
                "confidence": prediction.confidence[0],
                "model_version": served.version,
                "feature_spec_hash": served.feature_spec_hash,
            }
        ).body

    def torch_forward() -> object:
        with torch.no_grad():
            return network(tensor)

    sb3_obs = normalize(one)
    rows = [
        ("oracle kernel (compiled)", lambda: compiled.run(one)),
        ("oracle handler work (list->array, kernel, JSON)", handler_work),
        ("velocitas.agent.policy numpy forward", lambda: numpy_policy.predict(one)),
        ("torch forward (no_grad, 1 thread)", torch_forward),
        (
            "SB3 model.predict(deterministic=True)",
            lambda: model.predict(sb3_obs, deterministic=True),
        ),
    ]
    print("\none state, per call (p50 / p99, microseconds):")
    results = {}
    for name, fn in rows:
        p50, p99 = _per_call_us(fn, 20_000 if "SB3" not in name else 5_000)
        results[name] = p50
        print(f"  {name:<50} {p50:9.2f} / {p99:9.2f}")
    sb3 = results["SB3 model.predict(deterministic=True)"]
    kernel = results["oracle kernel (compiled)"]
    handler = results["oracle handler work (list->array, kernel, JSON)"]
    print(f"  ratio SB3 / kernel: {sb3 / kernel:.1f}x;  SB3 / handler work: {sb3 / handler:.1f}x")

    batch = states[:256].copy()
    for name, fn in (
        ("oracle kernel", lambda: compiled.run(batch)),
        ("SB3 model.predict", lambda: model.predict(normalize(batch), deterministic=True)),
    ):
        p50, _ = _per_call_us(fn, 500)
        print(f"  batch of 256, {name:<20} {p50:9.1f} us  ({256 / p50 * 1e6:,.0f} states/s)")


def _request_bytes(payload: dict[str, Any], port: int, key: str) -> bytes:
    body = orjson.dumps(payload)
    head = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _one_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.decode(errors="replace"))
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return await reader.readexactly(length)


async def _connection(port: int, request: bytes, until: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    clock = time.perf_counter
    while clock() < until:
        start = clock()
        writer.write(request)
        await _one_response(reader)
        latencies.append(clock() - start)
    writer.close()


def _load(port: int, request: bytes, connections: int, seconds: float) -> tuple[float, list[float]]:
    async def run() -> tuple[float, list[float]]:
        latencies: list[float] = []
        start = time.perf_counter()
        until = start + seconds
        await asyncio.gather(
            *(_connection(port, request, until, latencies) for _ in range(connections))
        )
        return len(latencies) / (time.perf_counter() - start), latencies

    return asyncio.run(run())


def _serve(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "oracle.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise TimeoutError("the oracle did not start")


def bench_http(url: str, workers: int, connections: int, seconds: float, batch: int) -> None:
    port = 18_731
    process = _serve(url, port, workers)
    try:
        states = np.random.default_rng(2).normal(0.0, 2.0, (batch, OBS_DIM))
        with session_scope(Settings(database_url=url)) as session:  # the oracle takes API keys
            key = create_user(session, f"bench-{workers}").api_key
        single = _request_bytes({"state": states[0].tolist()}, port, key)
        _load(port, single, connections, 1.0)  # warm-up: every worker, every connection path
        _, latencies = _load(port, single, 1, seconds)
        ms = np.array(latencies) * 1e3
        print(
            f"\nHTTP, {workers} worker(s): one connection, sequential: p50 "
            f"{np.percentile(ms, 50):.3f} ms, p99 {np.percentile(ms, 99):.3f} ms, "
            f"{len(ms) / seconds:,.0f} req/s"
        )
        rate, latencies = _load(port, single, connections, seconds)
        ms = np.array(latencies) * 1e3
        print(
            f"HTTP, {workers} worker(s): {connections} connections: {rate:,.0f} req/s, "
            f"p50 {np.percentile(ms, 50):.3f} ms, p99 {np.percentile(ms, 99):.3f} ms"
        )
        many = _request_bytes({"states": states.tolist()}, port, key)
        rate, latencies = _load(port, many, max(2, workers), seconds)
        ms = np.array(latencies) * 1e3
        print(
            f"HTTP, {workers} worker(s): batches of {batch}: {rate:,.0f} req/s = "
            f"{rate * batch:,.0f} states/s, p50 {np.percentile(ms, 50):.2f} ms"
        )
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    url = _bench_database()
    with tempfile.TemporaryDirectory() as tmp:
        model, normalization, record = _sb3_model_and_bundle(Path(tmp), url)
        print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
        bench_in_process(model, normalization, record)
        for workers in (int(w) for w in args.workers.split(",")):
            bench_http(url, workers, args.connections, args.seconds, args.batch)


if __name__ == "__main__":
    main()
