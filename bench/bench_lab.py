"""Lab benchmarks, us beside gym-anytrading's StocksEnv on the same bars, in one process.

    python bench/bench_lab.py [--bars 200000] [--steps 100000] [--ppo-steps 4096]
                              [--inference-bars 1000000]

1. Raw `env.step` rate with random actions: `TradingEnv` (engine execution, features,
   rewards), gym-anytrading's `StocksEnv`, and a bare env of TradingEnv's shape (the ceiling).
2. PPO training throughput (stable-baselines3, same hyper-parameters) on each env.
3. A policy back-test over `--inference-bars` bars: features, batched inference
   (`velocitas.agent.policy.policy_signals`) and the engine run, timed apart.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import torch
from gym_anytrading.envs import StocksEnv
from stable_baselines3 import PPO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test kit's torch actor

from lab.bundle import write_bundle
from lab.env import EnvConfig, TradingEnv, default_execution
from lab.evaluation import backtest_policy
from tests.support.torch_policy import PolicyNetwork
from velocitas.agent.policy import policy_signals, read_policy
from velocitas.domain.bars import BarArrays
from velocitas.engine.runner import run_signals
from velocitas.features import FeatureSpec, build_features

HOUR_NS = 3_600_000_000_000


def make_bars(n: int, seed: int = 0) -> BarArrays:
    rng = np.random.default_rng(seed)
    close = np.round(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))), 2)
    open_ = np.round(np.r_[close[0], close[:-1]], 2)
    high = np.round(np.maximum(open_, close) * (1 + rng.uniform(0, 0.004, n)), 2)
    low = np.round(np.minimum(open_, close) * (1 - rng.uniform(0, 0.004, n)), 2)
    volume = np.round(rng.lognormal(8.0, 1.0, n), 4)
    opened_at = 1_577_836_800_000_000_000 + np.arange(n, dtype=np.int64) * HOUR_NS
    return BarArrays("BENCH", "1h", opened_at, open_, high, low, close, volume)


class BareEnv(gym.Env[np.ndarray, int]):
    """TradingEnv's spaces and nothing else: what any env of this shape costs per step."""

    def __init__(self, obs_dim: int, length: int) -> None:
        self.observation_space = gym.spaces.Box(-5.0, 5.0, (obs_dim,), np.float32)
        self.action_space = gym.spaces.Discrete(3)
        self._obs = np.zeros(obs_dim, dtype=np.float32)
        self._length = length
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self._t = 0
        return self._obs.copy(), {}

    def step(self, action: int) -> Any:
        self._t += 1
        return self._obs.copy(), 0.0, False, self._t >= self._length, {}


def stocks_env(bars: BarArrays, window: int) -> StocksEnv:
    frame = pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
        }
    )
    return StocksEnv(frame, window_size=window, frame_bound=(window, len(bars)))


def step_rate(env: gym.Env[Any, Any], steps: int, n_actions: int) -> tuple[float, float]:
    """(steps per wall-clock second, steps per CPU second of this process)."""
    actions = [int(a) for a in np.random.default_rng(1).integers(0, n_actions, steps)]
    env.reset(seed=0)
    env.step(actions[0])  # warm (numba dispatch, caches)
    env.reset(seed=0)
    started, cpu = time.perf_counter(), time.process_time()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - started), steps / (time.process_time() - cpu)


def ppo_rate(env: gym.Env[Any, Any], timesteps: int) -> tuple[float, float]:
    """(timesteps per wall-clock second, per CPU second of this process)."""
    torch.set_num_threads(1)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=512,
        batch_size=64,
        n_epochs=4,
        policy_kwargs={"net_arch": [64, 64]},
        seed=0,
        device="cpu",
        verbose=0,
    )
    model.learn(512)  # warm-up rollout and update
    started, cpu = time.perf_counter(), time.process_time()
    model.learn(timesteps, reset_num_timesteps=False)
    return timesteps / (time.perf_counter() - started), timesteps / (time.process_time() - cpu)


def inference_backtest(n: int) -> dict[str, float]:
    spec = FeatureSpec()
    bars = make_bars(n, seed=3)
    config = {"obs_dim": spec.n_features + 1, "net_arch": [64, 64], "activation": "tanh"}
    config["action"] = {"kind": "discrete", "n": 3}
    torch.manual_seed(0)
    network = PolicyNetwork(config)
    obs_dim = spec.n_features + 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle"
        write_bundle(
            path,
            state_dict=network.state_dict(),
            normalization={
                "mean": [0.0] * obs_dim,
                "var": [1.0] * obs_dim,
                "count": 1.0,
                "clip_obs": 10.0,
                "epsilon": 1e-8,
            },
            feature_spec={"spec": spec.to_dict(), "spec_hash": spec.spec_hash()},
            config={"policy": config, "execution": {"allow_short": False}},
            versions={},
            training={},
        )
        policy = read_policy(path)
    execution = default_execution("BENCH", "1h")
    backtest_policy(policy, make_bars(2000, seed=4), execution)  # warm numba
    cpu = time.process_time()
    started = time.perf_counter()
    features = build_features(bars, spec)
    t_features = time.perf_counter()
    signals = policy_signals(policy, features)  # what backtest_policy does, timed apart
    t_inference = time.perf_counter()
    result = run_signals(execution, [bars], [signals])
    t_engine = time.perf_counter()
    return {
        "features_s": t_features - started,
        "inference_s": t_inference - t_features,
        "engine_s": t_engine - t_inference,
        "total_s": t_engine - started,
        "cpu_s": time.process_time() - cpu,
        "trades": float(len(result.trades)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=200_000)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--ppo-steps", type=int, default=4096)
    parser.add_argument("--inference-bars", type=int, default=1_000_000)
    args = parser.parse_args()

    bars = make_bars(args.bars)
    spec = FeatureSpec()
    ours = TradingEnv(bars, config=EnvConfig(episode_bars=None, random_start=False))
    peer = stocks_env(bars, spec.return_window)
    bare = BareEnv(spec.n_features + 1, args.bars)

    print(f"env.step, random actions, {args.steps:,} steps on {args.bars:,} bars")
    rate_ours = step_rate(ours, args.steps, 3)
    rate_peer = step_rate(peer, args.steps, 2)
    rate_bare = step_rate(bare, args.steps, 3)
    print("  (wall clock; per CPU second of this process in brackets)")
    for name, (wall, cpu) in (
        ("velocitas TradingEnv    ", rate_ours),
        ("gym-anytrading StocksEnv", rate_peer),
        ("bare env (same shape)   ", rate_bare),
    ):
        print(f"  {name}  {wall:>12,.0f} steps/s  ({cpu:,.0f})")
    print(f"  ratio velocitas / gym-anytrading: {rate_ours[0] / rate_peer[0]:.2f}x")

    print(f"PPO (SB3, n_steps 512, batch 64, 4 epochs, 64x64), {args.ppo_steps:,} timesteps")
    ppo_ours = ppo_rate(TradingEnv(bars, config=EnvConfig(episode_bars=2048)), args.ppo_steps)
    ppo_peer = ppo_rate(stocks_env(bars, spec.return_window), args.ppo_steps)
    print(f"  velocitas TradingEnv      {ppo_ours[0]:>12,.0f} steps/s  ({ppo_ours[1]:,.0f})")
    print(f"  gym-anytrading StocksEnv  {ppo_peer[0]:>12,.0f} steps/s  ({ppo_peer[1]:,.0f})")
    print(f"  ratio velocitas / gym-anytrading: {ppo_ours[0] / ppo_peer[0]:.2f}x")

    print(f"policy back-test over {args.inference_bars:,} bars (64x64 MLP)")
    figures = inference_backtest(args.inference_bars)
    print(
        f"  features {figures['features_s']:.2f} s, inference {figures['inference_s']:.2f} s, "
        f"engine {figures['engine_s']:.2f} s: total {figures['total_s']:.2f} s "
        f"({figures['cpu_s']:.2f} s CPU; {figures['trades']:,.0f} trades; goal < 10 s)"
    )


if __name__ == "__main__":
    main()
