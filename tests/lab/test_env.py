"""lab.env.TradingEnv: checkers, engine-exact rewards and trades, episode rules."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from lab.env import ENV_ID, EnvConfig, TradingEnv, default_execution
from tests.lab.factories import make_bars
from velocitas.agent.contract import BUY, HOLD, SELL
from velocitas.engine import BacktestSpec
from velocitas.engine.runner import run_signals


def _execution(**update: Any) -> BacktestSpec:
    data = default_execution("TEST", "1h").model_dump()
    data.update(update)
    return BacktestSpec.model_validate(data)


def _scripted(n: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return [int(a) for a in rng.choice([HOLD, BUY, SELL], size=n, p=[0.8, 0.1, 0.1])]


@pytest.mark.parametrize("mode", ["discrete", "box"])
def test_trading_env_passes_gymnasium_and_sb3_checkers(mode: str) -> None:
    config = EnvConfig(action_mode=mode, episode_bars=300)  # type: ignore[arg-type]
    gym_check_env(TradingEnv(make_bars(1000), config=config), skip_render_check=True)
    sb3_check_env(TradingEnv(make_bars(1000), config=config))


def test_trading_env_is_registered_under_its_id() -> None:
    env = gym.make(ENV_ID, bars=make_bars(500), config=EnvConfig(episode_bars=50))
    obs, _ = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    env.close()


@pytest.mark.parametrize(
    "execution",
    [
        {"fees": {"rate": "0.002", "fixed": "1"}, "slippage_bps": "10"},
        {"allow_short": True, "stops": {"stop_loss": {"kind": "percent", "value": "0.01"}}},
        {"fill": "same_close", "allow_short": True},
    ],
)
def test_trading_env_trades_exactly_like_run_signals(execution: dict[str, Any]) -> None:
    bars = make_bars(1500, seed=11)
    spec = _execution(**execution)
    env = TradingEnv(bars, spec, EnvConfig(episode_bars=None, random_start=False))
    env.reset(seed=0)
    signals = np.zeros(len(bars), dtype=np.int8)
    for action in _scripted(len(bars), seed=5):
        bar = env._stepper.index
        _, _, terminated, truncated, info = env.step(action)
        signals[bar] = info["side"]
        if terminated or truncated:
            break
    assert truncated
    assert not terminated
    env._stepper.finish(0)
    reference = run_signals(spec, [bars], [signals])
    ledger = env._stepper.ledger()
    assert len(reference.trades) > 5
    assert ledger.trades == reference.trades
    assert ledger.fills == reference.fills
    assert ledger.final_equity == reference.final_equity


def test_trading_env_reward_is_equity_change_net_of_costs() -> None:
    bars = make_bars(1200, seed=4)
    spec = _execution(fees={"rate": "0.001", "fixed": "0.25"}, slippage_bps="3")
    env = TradingEnv(bars, spec, EnvConfig(episode_bars=None, random_start=False))
    _, info = env.reset(seed=0)
    cash = float(spec.initial_cash)
    equity = info["equity"]
    total_reward = 0.0
    total_fees = 0.0
    for action in _scripted(len(bars), seed=9):
        _, reward, terminated, truncated, info = env.step(action)
        # The engine's own equity curve at the bar just run, differenced.
        assert reward == pytest.approx((info["equity"] - equity) / cash, abs=1e-15)
        assert info["equity"] == env._stepper.equity[info["bar"]]
        equity = info["equity"]
        total_reward += reward
        total_fees += info["fees"]
        if terminated or truncated:
            break
    ledger = env._stepper.ledger()
    # The run ends flat (end of data), so the rewards add up to the trades' net P&L, which is
    # their gross P&L minus every fee (slippage is inside the fill prices).
    net = sum((t.net_pnl for t in ledger.trades), start=Decimal(0))
    gross = sum((t.gross_pnl for t in ledger.trades), start=Decimal(0))
    fees = sum((f.fee for f in ledger.fills), start=Decimal(0))
    assert net == gross - fees
    assert total_reward * cash == pytest.approx(float(net), abs=1e-6)
    assert total_fees == pytest.approx(float(fees), rel=1e-12)
    assert fees > 0


def test_trading_env_log_return_rewards_sum_to_log_growth() -> None:
    bars = make_bars(800, seed=2)
    env = TradingEnv(bars, config=EnvConfig(reward="log_return", episode_bars=None))
    _, info = env.reset(seed=1, options={"start": 100})
    start_equity = info["equity"]
    total = 0.0
    for action in _scripted(len(bars), seed=1):
        _, reward, terminated, truncated, info = env.step(action)
        total += reward
        if terminated or truncated:
            break
    assert total == pytest.approx(math.log(info["equity"] / start_equity), abs=1e-12)


def test_trading_env_differential_sharpe_rewards_are_finite() -> None:
    env = TradingEnv(make_bars(800, seed=3), config=EnvConfig(reward="differential_sharpe"))
    env.reset(seed=2)
    rewards = []
    for action in _scripted(400, seed=2):
        _, reward, terminated, truncated, _ = env.step(action)
        rewards.append(reward)
        if terminated or truncated:
            break
    assert all(math.isfinite(r) for r in rewards)
    assert any(r != 0.0 for r in rewards)


def test_trading_env_random_starts_come_from_the_seed() -> None:
    env = TradingEnv(make_bars(3000), config=EnvConfig(episode_bars=100))
    starts = [env.reset(seed=s)[1]["bar"] for s in (1, 2, 1)]
    assert starts[0] == starts[2]
    assert starts[0] != starts[1]
    unseeded = {env.reset()[1]["bar"] for _ in range(20)}
    assert len(unseeded) > 1
    assert all(env.first_bar <= s <= 3000 - 1 - 100 for s in unseeded)


def test_trading_env_episode_truncates_after_episode_bars() -> None:
    env = TradingEnv(make_bars(1000), config=EnvConfig(episode_bars=25))
    env.reset(seed=0)
    flags = [env.step(HOLD)[3] for _ in range(25)]
    assert flags == [False] * 24 + [True]


def test_trading_env_kill_switch_terminates() -> None:
    spec = _execution(risk={"max_drawdown": "0.01"}, fees={"rate": "0.005"})
    env = TradingEnv(make_bars(2000, seed=8), spec, EnvConfig(episode_bars=None))
    env.reset(seed=0, options={"start": 200})
    terminated = truncated = False
    steps = 0
    while not (terminated or truncated):
        _, _, terminated, truncated, _ = env.step(BUY if steps % 2 == 0 else SELL)
        steps += 1
    assert terminated
    assert steps < 200


def test_trading_env_sell_is_flat_without_short_and_short_with_it() -> None:
    for allow_short, expected in ((False, 0), (True, -1)):
        env = TradingEnv(make_bars(500), _execution(allow_short=allow_short))
        env.reset(seed=0)
        obs, _, _, _, info = env.step(SELL)
        assert info["side"] == expected
        assert obs[-1] == expected
        obs, _, _, _, info = env.step(HOLD)
        assert info["side"] == expected


def test_trading_env_box_action_maps_to_side_with_deadband() -> None:
    env = TradingEnv(make_bars(500), _execution(allow_short=True), EnvConfig(action_mode="box"))
    env.reset(seed=0)
    sides = [env.step(np.array([a], dtype=np.float32))[4]["side"] for a in (0.9, 0.1, -0.5)]
    assert sides == [1, 0, -1]


def test_trading_env_too_few_bars_is_refused() -> None:
    with pytest.raises(ValueError, match="too few"):
        TradingEnv(make_bars(50))
