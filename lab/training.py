"""PPO training on `TradingEnv`, validated through the engine, written as one artifact bundle.

Determinism: one torch thread, every seed derived from `TrainConfig.seed`, no wall-clock value in
the bundle. Same config and same bars give the same weights and the same bundle sha256.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import gymnasium
import numba
import numpy as np
import numpy.typing as npt
import safetensors
import stable_baselines3
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from lab.env import EnvConfig, TradingEnv
from lab.evaluation import backtest_policy
from velocitas.agent.policy import PolicyModel, build_policy
from velocitas.domain.bars import BarArrays
from velocitas.engine import ENGINE_VERSION, BacktestSpec
from velocitas.features import FeatureSpec, build_features

__all__ = ["PPOConfig", "TrainConfig", "TrainedPolicy", "library_versions", "train_policy"]

F64 = npt.NDArray[np.float64]
ProgressFn = Callable[[int, int], None]
"""Called with (timesteps done, timesteps in all) as training advances."""


@dataclass(frozen=True, slots=True)
class PPOConfig:
    """PPO hyper-parameters and the MLP's shape (SB3 names)."""

    n_steps: int = 512
    batch_size: int = 64
    n_epochs: int = 4
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01
    net_arch: tuple[int, ...] = (64, 64)
    activation: str = "tanh"


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything a training run depends on, besides the bars themselves."""

    symbol: str
    timeframe: str
    train_start: datetime
    train_end: datetime
    validate_start: datetime
    validate_end: datetime
    timesteps: int
    seed: int
    execution: BacktestSpec
    env: EnvConfig = field(default_factory=EnvConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    feature_spec: FeatureSpec = field(default_factory=FeatureSpec)
    sentiment: bool = False
    """Fill the features' sentiment column from the analyst's series (else 0)."""
    eval_every: int | None = None
    """Validate every this many timesteps (default: n_steps, once per rollout)."""
    clip_obs: float = 10.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "train": [self.train_start.isoformat(), self.train_end.isoformat()],
            "validate": [self.validate_start.isoformat(), self.validate_end.isoformat()],
            "timesteps": self.timesteps,
            "seed": self.seed,
            "execution": self.execution.model_dump(mode="json"),
            "env": self.env.to_dict(),
            "ppo": {**asdict(self.ppo), "net_arch": list(self.ppo.net_arch)},
            "feature_spec": self.feature_spec.to_dict(),
            "sentiment": self.sentiment,
            "eval_every": self.eval_every,
            "clip_obs": self.clip_obs,
        }


@dataclass(frozen=True)
class TrainedPolicy:
    """The outcome of a run, ready to be written as a bundle."""

    state_dict: dict[str, torch.Tensor]
    normalization: dict[str, Any]
    config: dict[str, Any]
    feature_spec_doc: dict[str, Any]
    training: dict[str, Any]

    def policy(self) -> PolicyModel:
        return build_policy(
            _arrays(self.state_dict), self.normalization, self.config, self.feature_spec_doc
        )


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "torch": torch.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "gymnasium": gymnasium.__version__,
        "safetensors": safetensors.__version__,
        "engine": ENGINE_VERSION,
    }


def slug(text: str) -> str:
    """A file- and version-safe form of a symbol or timeframe."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "x"


def _normalization(venv: VecNormalize) -> dict[str, Any]:
    rms = venv.obs_rms
    assert isinstance(rms, RunningMeanStd)  # a Box observation space: one set of statistics
    return {
        "kind": "VecNormalize",
        "mean": [float(v) for v in np.asarray(rms.mean)],
        "var": [float(v) for v in np.asarray(rms.var)],
        "count": float(rms.count),
        "clip_obs": float(venv.clip_obs),
        "epsilon": float(venv.epsilon),
        "norm_obs": True,
        "norm_reward": False,
    }


def _policy_config(config: TrainConfig, obs_dim: int) -> dict[str, Any]:
    action: dict[str, Any] = (
        {"kind": "box", "dim": 1, "low": -1.0, "high": 1.0}
        if config.env.action_mode == "box"
        else {"kind": "discrete", "n": 3}
    )
    return {
        "obs_dim": obs_dim,
        "net_arch": list(config.ppo.net_arch),
        "activation": config.ppo.activation,
        "action": action,
    }


class _Validation(BaseCallback):
    """Every `every` timesteps: back-test the current policy on the validation bars through the
    engine, record the curve, and keep the best checkpoint (by validation total return)."""

    def __init__(
        self,
        run: _Run,
        every: int,
        on_progress: ProgressFn | None,
    ) -> None:
        super().__init__()
        self.run = run
        self.every = every
        self.on_progress = on_progress
        self.next_eval = every
        self.episodes: list[dict[str, float]] = []

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            episode = info.get("episode")
            if episode is not None:
                self.episodes.append(
                    {
                        "timesteps": int(self.num_timesteps),
                        "reward": float(episode["r"]),
                        "length": int(episode["l"]),
                    }
                )
        if self.num_timesteps >= self.next_eval:
            self.next_eval += self.every
            self.run.validate(int(self.num_timesteps))
        if self.on_progress is not None:
            self.on_progress(int(self.num_timesteps), self.run.config.timesteps)
        return True


class _Run:
    """One training run's state: the model, its normalisation, the best checkpoint so far."""

    def __init__(
        self,
        config: TrainConfig,
        train_bars: BarArrays,
        validate_bars: BarArrays,
        sentiment: tuple[F64 | None, F64 | None],
    ):
        self.config = config
        spec = config.feature_spec
        self.validate_bars = validate_bars
        self.validate_features = build_features(validate_bars, spec, sentiment[1])
        train_features = build_features(train_bars, spec, sentiment[0])
        self.feature_spec_doc = {"spec": spec.to_dict(), "spec_hash": spec.spec_hash()}

        def make_env() -> Monitor[Any, Any]:
            return Monitor(
                TradingEnv(train_bars, config.execution, config.env, spec, features=train_features)
            )

        vec = DummyVecEnv([make_env])
        vec.seed(config.seed)
        self.venv = VecNormalize(vec, norm_obs=True, norm_reward=False, clip_obs=config.clip_obs)
        activation = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[config.ppo.activation]
        ppo = config.ppo
        self.model = PPO(
            "MlpPolicy",
            self.venv,
            n_steps=ppo.n_steps,
            batch_size=ppo.batch_size,
            n_epochs=ppo.n_epochs,
            learning_rate=ppo.learning_rate,
            gamma=ppo.gamma,
            gae_lambda=ppo.gae_lambda,
            clip_range=ppo.clip_range,
            ent_coef=ppo.ent_coef,
            policy_kwargs={"net_arch": list(ppo.net_arch), "activation_fn": activation},
            seed=config.seed,
            device="cpu",
            verbose=0,
        )
        obs_dim = int(self.venv.observation_space.shape[0])  # type: ignore[index]
        self.full_config = {**config.to_dict(), "policy": _policy_config(config, obs_dim)}
        self.curve: list[dict[str, Any]] = []
        self.best: tuple[float, dict[str, torch.Tensor], dict[str, Any], int] | None = None

    def snapshot(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        weights = {k: v.detach().clone() for k, v in self.model.policy.state_dict().items()}
        return weights, _normalization(self.venv)

    def validate(self, timesteps: int) -> None:
        weights, normalization = self.snapshot()
        policy = build_policy(
            _arrays(weights), normalization, self.full_config, self.feature_spec_doc
        )
        result = backtest_policy(
            policy, self.validate_bars, self.config.execution, features=self.validate_features
        )
        score = _number(result.metrics.get("total_return")) or 0.0
        self.curve.append(
            {
                "timesteps": timesteps,
                "total_return": score,
                "max_drawdown": _number(result.metrics.get("max_drawdown")),
                "sharpe": _number(result.metrics.get("sharpe")),
                "trades": len(result.trades),
            }
        )
        if self.best is None or score > self.best[0]:
            self.best = (score, weights, normalization, timesteps)


def _arrays(state_dict: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {name: tensor.numpy() for name, tensor in state_dict.items()}


def _number(value: Any) -> float | None:
    """A metric as a JSON number; None when undefined (no trades: NaN Sharpe, say)."""
    if value is None:
        return None
    number = float(value)
    return number if np.isfinite(number) else None


def train_policy(
    config: TrainConfig,
    train_bars: BarArrays,
    validate_bars: BarArrays,
    on_progress: ProgressFn | None = None,
    sentiment: tuple[F64 | None, F64 | None] = (None, None),
) -> TrainedPolicy:
    """Train PPO on `train_bars`, validating on `validate_bars`; the best checkpoint wins.

    `sentiment`: the score per bar of each window (see `velocitas.db.sentiment.bar_sentiment`), or
    None."""
    if config.timesteps < 1:
        raise ValueError("timesteps must be at least 1")
    torch.set_num_threads(1)  # small MLPs gain nothing from threads, and results stay exact
    set_random_seed(config.seed)
    run = _Run(config, train_bars, validate_bars, sentiment)
    every = config.eval_every or config.ppo.n_steps
    callback = _Validation(run, every, on_progress)
    run.model.learn(total_timesteps=config.timesteps, callback=callback)
    if not run.curve or run.curve[-1]["timesteps"] != run.model.num_timesteps:
        run.validate(int(run.model.num_timesteps))
    assert run.best is not None
    score, weights, normalization, at = run.best
    best = build_policy(_arrays(weights), normalization, run.full_config, run.feature_spec_doc)
    result = backtest_policy(best, validate_bars, config.execution, features=run.validate_features)
    training = {
        "episodes": callback.episodes,
        "validation_curve": run.curve,
        "best": {"timesteps": at, "total_return": score},
        "validation_metrics": {k: _jsonable(v) for k, v in result.metrics.items()},
        "validation_trades": len(result.trades),
        "timesteps": int(run.model.num_timesteps),
    }
    return TrainedPolicy(
        state_dict=weights,
        normalization=normalization,
        config=run.full_config,
        feature_spec_doc=run.feature_spec_doc,
        training=training,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
