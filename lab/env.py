"""`TradingEnv`: one symbol's bars as a gymnasium environment, traded by the backtest engine."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from gymnasium import spaces

from lab import ENV_ID
from velocitas.agent.contract import POSITION, ActionMode, observations, target_side
from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestSpec, Stepper
from velocitas.features import FeatureSpec, build_features

__all__ = ["ENV_ID", "EnvConfig", "TradingEnv", "default_execution"]


RewardKind = Literal["pnl", "log_return", "differential_sharpe"]


@dataclass(frozen=True, slots=True)
class EnvConfig:
    """How episodes, actions and rewards are shaped (execution rules come from the spec)."""

    episode_bars: int | None = 2048
    """Bars per episode; None: from the start to the end of the data."""
    random_start: bool = True
    """Draw each episode's first bar from `np_random`; False: start at the warm-up."""
    reward: RewardKind = "pnl"
    action_mode: ActionMode = "discrete"
    sharpe_eta: float = 0.01
    """Adaptation rate of the differential Sharpe ratio's moving moments."""

    def __post_init__(self) -> None:
        if self.episode_bars is not None and self.episode_bars < 1:
            raise ValueError("EnvConfig.episode_bars must be at least 1 (or None)")
        if self.reward not in ("pnl", "log_return", "differential_sharpe"):
            raise ValueError(f"EnvConfig.reward {self.reward!r} is not a known reward")
        if self.action_mode not in ("discrete", "box"):
            raise ValueError(f"EnvConfig.action_mode {self.action_mode!r} is not discrete/box")
        if not 0.0 < self.sharpe_eta < 1.0:
            raise ValueError("EnvConfig.sharpe_eta must lie in (0, 1)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_execution(symbol: str = "SYMBOL", timeframe: str = "1h") -> BacktestSpec:
    """A backtest spec with the engine's defaults, for environments built without one.

    The dates are placeholders: the environment trades the bars it is given.
    """
    return BacktestSpec.model_validate(
        {
            "symbol": symbol,
            "strategy": {"name": "policy"},
            "timeframe": timeframe,
            "start": datetime(1970, 1, 1, tzinfo=UTC),
            "end": datetime(2100, 1, 1, tzinfo=UTC),
            "initial_cash": Decimal(10_000),
        }
    )


class TradingEnv(gym.Env[npt.NDArray[np.float32], Any]):
    """Trade one symbol's bars, one bar per step, through the backtest engine's execution rules.

    Every order goes through `velocitas.engine`'s per-bar stepper: fills at the next bar's open
    (or the same close, per the spec), fees, slippage, stop loss / take profit / trailing stop
    along the intrabar path, and the risk rules (cash check, maximum position, daily loss limit,
    drawdown kill switch, open positions, trades per day, maximum holding period, flat at the
    session close). A policy therefore trades here exactly as it would in a backtest. The
    agent's actions carry confidence 1, so a spec's `risk.min_confidence` never refuses them.

    ## Action Space

    `action_mode="discrete"` (default): `Discrete(3)`:

    | action | meaning |
    |---|---|
    | 0 | hold: keep the current target side |
    | 1 | buy: target long |
    | 2 | sell: target flat, or short when the spec has `allow_short` |

    `action_mode="box"`: `Box(-1, 1, (1,))`, the target position as a signed fraction; the
    engine sizes every entry by the spec's `sizing`, so the fraction is quantised to a side:
    below 1/3 in magnitude is flat, above it the sign is the side (short only with
    `allow_short`). Fractional resizing of an open position is not an engine order type.
    Codes, dead band and sides are the agent contract's (`velocitas.agent.contract`).

    ## Observation Space

    `Box(-clip, clip, (n_features + 1,), float32)` (`FeatureSpec.clip`, 5 by default: every
    feature is clipped to it): the `velocitas.features` row of the bar just closed
    (`FeatureSpec.names`), then the position state: the side the agent currently targets
    (−1, 0, +1). The position state is the agent's target rather than the filled position so
    that the same observations, hence the same actions, can be computed in a backtest
    (`velocitas.agent.policy.policy_signals`); the two differ only when a stop or a risk rule
    intervened. The layout is the agent contract's (`velocitas.agent.contract.observations`).

    ## Rewards

    Chosen by `EnvConfig.reward`, from the engine's equity at the close of each bar (cash plus
    the position marked at the close, with the bar's fees and slippage already paid):

    - `"pnl"` (default): the change in portfolio value net of transaction costs, as a fraction
      of the initial cash: (equity_t − equity_{t−1}) / initial_cash.
    - `"log_return"`: log(equity_t / equity_{t−1}).
    - `"differential_sharpe"`: Moody & Saffell's differential Sharpe ratio of the bar's return,
      with moving moments of rate `sharpe_eta`.

    ## Starting State

    Flat, with the spec's initial cash, at the close of a bar drawn uniformly from
    `self.np_random` among those that leave a full episode after the feature warm-up
    (`random_start=False`, or `options={"start": i}`, picks the bar).

    ## Episode End

    - terminated: the account is blown (equity at or below zero) or the drawdown kill switch
      fired at the bar's close (the engine halts trading; the flattening fill at the next
      open lies outside the episode, as the account is already frozen for the agent);
    - truncated: the episode reached `episode_bars` bars or the end of the data.

    ## Info

    `equity`, `fees` (paid during the step), `side` (targeted), `bar` (index into the bars).
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium's own pattern)

    def __init__(
        self,
        bars: BarArrays,
        execution: BacktestSpec | None = None,
        config: EnvConfig | None = None,
        feature_spec: FeatureSpec | None = None,
        sentiment: npt.NDArray[np.float64] | None = None,
        features: npt.NDArray[np.float32] | None = None,
    ) -> None:
        self.bars = bars
        self.execution = execution or default_execution(bars.symbol, bars.timeframe)
        self.config = config or EnvConfig()
        self.feature_spec = feature_spec or FeatureSpec()
        if features is None:
            features = build_features(bars, self.feature_spec, sentiment)
        if features.shape != (len(bars), self.feature_spec.n_features):
            raise ValueError(f"features have shape {features.shape}, not one row per bar")
        self.features = np.ascontiguousarray(features, dtype=np.float32)
        self.first_bar = self.feature_spec.warmup
        last_start = len(bars) - 2  # at least one bar to step into
        if last_start < self.first_bar:
            raise ValueError(
                f"{len(bars)} bars are too few: the features need {self.first_bar} to warm up"
            )
        self.allow_short = self.execution.allow_short
        self.initial_cash = float(self.execution.initial_cash)
        self._stepper = Stepper(self.execution, bars)
        n_obs = self.feature_spec.n_features + 1
        bound = max(float(self.feature_spec.clip), 1.0)  # every feature is clipped to this
        self.observation_space = spaces.Box(-bound, bound, (n_obs,), np.float32)
        if self.config.action_mode == "box":
            self.action_space: spaces.Space[Any] = spaces.Box(-1.0, 1.0, (1,), np.float32)
        else:
            self.action_space = spaces.Discrete(3)
        # Every bar's observation, flat: a step copies its row and stores the side targeted.
        self._table = observations(self.features, 0)
        self._action_mode = self.config.action_mode
        self._pnl_reward = self.config.reward == "pnl"
        self._side = 0
        self._start = self.first_bar
        self._stop = self.first_bar
        self._equity = self.initial_cash
        self._sharpe_a = 0.0
        self._sharpe_b = 0.0

    def _observation(self) -> npt.NDArray[np.float32]:
        obs = self._table[self._stepper.index].copy()
        obs[POSITION] = self._side
        return obs

    def _pick_start(self, options: dict[str, Any] | None) -> int:
        length = self.config.episode_bars
        last = len(self.bars) - 2
        if length is not None:
            last = max(self.first_bar, len(self.bars) - 1 - length)
        if options and "start" in options:
            start = int(options["start"])
            if not self.first_bar <= start <= len(self.bars) - 2:
                raise ValueError(f"start must lie in [{self.first_bar}, {len(self.bars) - 2}]")
            return start
        if not self.config.random_start:
            return self.first_bar
        return int(self.np_random.integers(self.first_bar, last + 1))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
        super().reset(seed=seed)
        self._start = self._pick_start(options)
        length = self.config.episode_bars
        end = len(self.bars) - 1 if length is None else self._start + length
        self._stop = min(end, len(self.bars) - 1)
        self._side = 0
        self._equity = self._stepper.reset(self._start)
        self._sharpe_a = 0.0
        self._sharpe_b = 0.0
        info = {"equity": self._equity, "fees": 0.0, "side": 0, "bar": self._start}
        return self._observation(), info

    def step(
        self, action: Any
    ) -> tuple[npt.NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        self._side = target_side(action, self._side, self._action_mode, self.allow_short)
        before = self._equity
        stepper = self._stepper
        equity, fees, halted = stepper.step(self._side)
        self._equity = equity
        if self._pnl_reward:
            reward = (equity - before) / self.initial_cash
        else:
            reward = self._reward(before, equity)
        bar = stepper.index
        terminated = halted or equity <= 0.0
        truncated = not terminated and bar >= self._stop
        info = {"equity": equity, "fees": fees, "side": self._side, "bar": bar}
        return self._observation(), reward, terminated, truncated, info

    def _reward(self, before: float, after: float) -> float:
        kind = self.config.reward
        if kind == "pnl":
            return (after - before) / self.initial_cash
        if kind == "log_return":
            if after <= 0.0 or before <= 0.0:
                return -10.0  # a blown account: a large finite penalty, not -inf
            return math.log(after / before)
        return self._differential_sharpe((after - before) / before if before > 0 else -1.0)

    def _differential_sharpe(self, r: float) -> float:
        """Moody & Saffell (1998): the first-order effect of return r on the moving Sharpe."""
        eta = self.config.sharpe_eta
        a, b = self._sharpe_a, self._sharpe_b
        delta_a = r - a
        delta_b = r * r - b
        self._sharpe_a = a + eta * delta_a
        self._sharpe_b = b + eta * delta_b
        variance = b - a * a
        if variance <= 1e-12:
            return 0.0
        return float((b * delta_a - 0.5 * a * delta_b) / variance**1.5)
