"""`policy`: a registered RL policy as the strategy of an ordinary backtest.

`{"name": "policy", "params": {"model": VERSION}}` looks the version up in the model registry,
checks the bundle's sha256 and feature-spec hash (`velocitas.agent.policy.read_policy`), and
returns the side the policy targets at every bar's close, exactly as `lab.env.TradingEnv` steps
it (`velocitas.agent.policy.policy_signals`).

Strategies never touch storage: the registry row and the stored news sentiment come from a
`PolicyResolver` that the process running backtests hands to `register_policy_strategy` (the
worker passes `velocitas.db`'s readers). The strategy is not registered on import, so the
registry's catalogue stays the rule strategies unless a process opts in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import Field

from velocitas.agent.policy import PolicyModel, policy_decisions, policy_signals, read_policy
from velocitas.domain.bars import BarArrays
from velocitas.errors import ConfigurationError, InvalidRequest, NotFound
from velocitas.features import build_features
from velocitas.strategies import registry
from velocitas.strategies.base import F64, I8, Bars, Strategy, StrategyParams

__all__ = ["PolicyResolver", "PolicyStrategy", "RegisteredModel", "register_policy_strategy"]


class RegisteredModel(Protocol):
    """A model registry row, as far as the strategy reads it (`ModelRecord` fits)."""

    @property
    def path(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def timeframe(self) -> str: ...


@dataclass(frozen=True)
class PolicyResolver:
    """Where `PolicyStrategy` finds its models and their inputs, outside the strategy layer."""

    model: Callable[[str], RegisteredModel]
    """version -> its registry row; raises `NotFound` when no model has that version."""
    sentiment: Callable[[BarArrays], npt.ArrayLike]
    """bars -> the analyst's sentiment score at each bar's close, 0 where none is stored."""


@lru_cache(maxsize=8)
def _read_cached(path: str, sha256: str) -> PolicyModel:
    return read_policy(path, sha256)  # keyed by the verified hash: a changed bundle is reread


class PolicyStrategy(Strategy):
    """A registered RL policy: the side it targets at each bar's close (see `policy_signals`)."""

    name = "policy"
    description = "A trained reinforcement-learning policy from the model registry."

    resolver: ClassVar[PolicyResolver | None] = None
    """Set by `register_policy_strategy`; None where this process cannot run policies."""

    class Params(StrategyParams):
        model: str = Field(min_length=1, max_length=100, description="registered model version")

    params: Params

    def _resolver(self) -> PolicyResolver:
        if self.resolver is None:
            raise ConfigurationError(
                "this process cannot run policies: no model registry was given to "
                "register_policy_strategy"
            )
        return self.resolver

    def registered_policy(self) -> tuple[PolicyModel, str]:
        """The policy registered as `params.model` and the timeframe it was trained on."""
        try:
            record = self._resolver().model(self.params.model)
        except NotFound as exc:
            raise InvalidRequest(str(exc), field="strategy.params.model") from exc
        return _read_cached(record.path, record.sha256), record.timeframe

    def signals(self, bars: Bars) -> I8:
        policy, features = self._inputs(bars)
        return policy_signals(policy, features)

    def signals_with_confidence(self, bars: Bars) -> tuple[I8, F64 | None]:
        """The sides and, as confidence, the probability the policy gave each action it took
        (`velocitas.agent.policy.policy_decisions`)."""
        policy, features = self._inputs(bars)
        return policy_decisions(policy, features)

    def _inputs(self, bars: Bars) -> tuple[PolicyModel, npt.NDArray[np.float32]]:
        if not isinstance(bars, BarArrays):
            raise TypeError("a policy reads BarArrays: it checks their timeframe and sentiment")
        policy, timeframe = self.registered_policy()
        if bars.timeframe != timeframe:
            raise InvalidRequest(
                f"model {self.params.model!r} was trained on {timeframe} bars, not "
                f"{bars.timeframe}",
                field="strategy.params.model",
            )
        sentiment = None
        if policy.uses_sentiment:
            sentiment = np.asarray(self._resolver().sentiment(bars), dtype=np.float64)
        return policy, build_features(bars, policy.feature_spec, sentiment)


def register_policy_strategy(resolver: PolicyResolver | None = None) -> None:
    """Add `PolicyStrategy` to `velocitas.strategies.registry` (idempotent); with `resolver`,
    also let this process run policies.

    A process that only validates specs (the gateway) registers it bare; one that runs
    backtests (the worker at start-up) passes a resolver backed by the model registry."""
    if resolver is not None:
        PolicyStrategy.resolver = resolver
    registry.register(PolicyStrategy)
