"""The agent contract: one observation, one set of actions, one normalisation.

The lab's environment (`lab.env.TradingEnv`) trains on it, the oracle serves it and the policy
strategy back-tests it; each uses these definitions, so a policy sees the same inputs and its
actions mean the same sides wherever it runs.

Observation: the `velocitas.features` row of the bar just closed (`FeatureSpec.names`), then the
position: the side the agent currently targets (−1, 0, +1), at index `POSITION`.

Actions: `Discrete(3)` (`HOLD` keeps the target, `BUY` targets long, `SELL` targets flat, or
short where shorting is allowed) or a `Box(-1, 1, (1,))` target fraction, quantised to a side
(below `BOX_DEADBAND` in magnitude flat, above it the sign).

Normalisation: stable-baselines3's `VecNormalize` transform of an observation,
clip((x − mean) / √(var + ε), ±clip_obs), with the statistics a bundle stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "ACTION_MODES",
    "BOX_DEADBAND",
    "BUY",
    "HOLD",
    "POSITION",
    "SELL",
    "SIDES",
    "ActionMode",
    "ObservationNormalization",
    "observations",
    "target_side",
    "target_sides",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]

ActionMode = Literal["discrete", "box"]
ACTION_MODES: tuple[ActionMode, ...] = ("discrete", "box")

HOLD, BUY, SELL = 0, 1, 2
"""The discrete actions."""
BOX_DEADBAND = 1.0 / 3.0
"""Box actions: |a| below this targets flat; above it the sign is the side."""
SIDES = (-1, 0, 1)
"""The sides an agent can target: short, flat, long."""
POSITION = -1
"""Index of the position (the targeted side) in an observation; the features come before it."""


def observations(features: npt.ArrayLike, position: npt.ArrayLike) -> F32:
    """Observations of feature rows (n, n_features): each row followed by the position (a side,
    or one per row), float32, shape (n, n_features + 1)."""
    rows = np.asarray(features)
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.float32)
    out[:, :POSITION] = rows
    out[:, POSITION] = position
    return out


def target_side(action: Any, current: int, mode: ActionMode, allow_short: bool) -> int:
    """The side an action targets, given the side currently targeted (`target_sides` for a
    batch; a test holds the two equal)."""
    if mode == "box":
        value = float(np.asarray(action).reshape(-1)[0])
        if value >= BOX_DEADBAND:
            return 1
        return -1 if allow_short and value <= -BOX_DEADBAND else 0
    choice = int(action)
    if choice == BUY:
        return 1
    if choice == SELL:
        return -1 if allow_short else 0
    if choice != HOLD:
        raise ValueError(f"action {action!r} is not in Discrete(3)")
    return current


def target_sides(actions: npt.ArrayLike, held: int, mode: ActionMode, allow_short: bool) -> I8:
    """`target_side` of each action of a batch (discrete codes, or box values), all taken while
    targeting `held`."""
    values = np.asarray(actions)
    if mode == "box":
        side = np.where(values >= BOX_DEADBAND, 1, 0).astype(np.int8)
        if allow_short:
            side[values <= -BOX_DEADBAND] = -1
        return side
    side = np.full(len(values), held, dtype=np.int8)
    side[values == BUY] = 1
    side[values == SELL] = -1 if allow_short else 0
    return side


@dataclass(frozen=True)
class ObservationNormalization:
    """VecNormalize's observation statistics (a bundle's `normalization.json`) and transform."""

    mean: F64
    var: F64
    clip_obs: float
    epsilon: float

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> ObservationNormalization:
        """From `normalization.json`; `KeyError`, `TypeError` or `ValueError` if it is not one."""
        return cls(
            mean=np.asarray(document["mean"], dtype=np.float64),
            var=np.asarray(document["var"], dtype=np.float64),
            clip_obs=float(document["clip_obs"]),
            epsilon=float(document["epsilon"]),
        )

    @property
    def scale(self) -> F64:
        """√(var + ε), the divisor of each column."""
        return np.sqrt(self.var + self.epsilon)

    def apply(self, obs: npt.ArrayLike) -> F32:
        """VecNormalize's observation transform, exactly: clip((x − mean) / √(var + ε)), in
        float64, then float32."""
        scaled = (np.asarray(obs, dtype=np.float64) - self.mean) / self.scale
        return np.clip(scaled, -self.clip_obs, self.clip_obs).astype(np.float32)

    def features_only(self) -> ObservationNormalization:
        """The same transform for the feature columns of observations (the position left out)."""
        return replace(self, mean=self.mean[:POSITION], var=self.var[:POSITION])
