"""A bundle's actor read and run with numpy alone, one state or a whole series of bars.

A bundle is the directory the lab writes after training (format in `velocitas.bundle`). This module
verifies it, rebuilds the actor network from its `config.json`, reads the weights from
safetensors (never pickle) and runs batched inference in numpy, so the worker, the oracle and
the lab back-test a policy with one implementation and without torch. Observations, actions and
their normalisation are the agent contract's (`velocitas.agent.contract`).

`policy_signals` turns the policy's choices over a series of bars into target sides, exactly as
`lab.env.TradingEnv` steps it; `velocitas.strategies.policy.PolicyStrategy` back-tests a
registered policy with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from velocitas.agent.contract import (
    ACTION_MODES,
    POSITION,
    SIDES,
    ActionMode,
    ObservationNormalization,
    observations,
    target_sides,
)
from velocitas.bundle import (
    CONFIG,
    FEATURE_SPEC,
    NORMALIZATION,
    WEIGHTS,
    BundleError,
    LoadedBundle,
    load_bundle,
)
from velocitas.features import FeatureSpec
from velocitas.jit import njit

__all__ = [
    "PolicyModel",
    "build_policy",
    "policy_decisions",
    "policy_from_bundle",
    "policy_signals",
    "read_policy",
]

F32 = npt.NDArray[np.float32]
I8 = npt.NDArray[np.int8]
BATCH_ROWS = 1 << 16


def _relu(x: F32) -> F32:
    return np.maximum(x, np.float32(0.0))


_ACTIVATIONS: dict[str, Any] = {"tanh": np.tanh, "relu": _relu}


@dataclass(frozen=True)
class PolicyModel:
    """The actor of a bundle in numpy: normalisation, hidden layers, action head."""

    layers: tuple[tuple[F32, F32], ...]
    """(weight (out, in), bias) of each hidden layer, SB3's `mlp_extractor.policy_net`."""
    head: tuple[F32, F32]
    activation: str
    action_kind: ActionMode
    action_low: float
    action_high: float
    normalization: ObservationNormalization
    feature_spec: FeatureSpec
    allow_short: bool
    uses_sentiment: bool = False
    """Trained with the news-sentiment column filled (else it was 0 throughout)."""
    sha256: str = ""

    @property
    def obs_dim(self) -> int:
        return len(self.normalization.mean)

    def _split_first(self) -> tuple[F32, F32, F32]:
        """The first linear map split into its feature part (transposed), its position
        column and its bias: a batch shares the feature product across positions."""
        weight, bias = self.layers[0] if self.layers else self.head
        return np.ascontiguousarray(weight[:, :POSITION].T), weight[:, POSITION].copy(), bias

    def _output(self, pre: F32) -> F32:
        """From the first map's pre-activation to the head's output (logits or mean)."""
        if not self.layers:
            return pre
        activation = _ACTIVATIONS[self.activation]
        x = activation(pre)
        for weight, bias in self.layers[1:]:
            x = activation(x @ weight.T + bias)
        return np.asarray(x @ self.head[0].T + self.head[1], dtype=np.float32)

    def _logits(self, obs: npt.ArrayLike) -> F32:
        x = self.normalization.apply(np.atleast_2d(obs))
        features_t, position, bias = self._split_first()
        return self._output(x[:, :POSITION] @ features_t + (x[:, POSITION:] * position + bias))

    def action_output(self, obs: npt.ArrayLike) -> F32:
        """Batched forward pass on raw observations (n, obs_dim): action probabilities
        (discrete) or the deterministic action clipped to the box (box)."""
        out = self._logits(obs)
        if self.action_kind == "discrete":
            exp = np.exp(out - out.max(axis=1, keepdims=True))
            return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
        return np.clip(out, self.action_low, self.action_high).astype(np.float32)

    def predict(self, obs: npt.ArrayLike) -> tuple[npt.NDArray[Any], F32]:
        """Deterministic actions (the largest logit) and the chosen action's probability
        (1.0 for box policies)."""
        if self.action_kind == "discrete":
            logits = self._logits(obs)
            actions = logits.argmax(axis=1)
            exp = np.exp(logits - logits.max(axis=1, keepdims=True))
            chosen = exp[np.arange(len(exp)), actions] / exp.sum(axis=1)
            return actions, chosen.astype(np.float32)
        out = self.action_output(obs)
        return out, np.ones(len(out), dtype=np.float32)

    def side_decisions(self, features: F32) -> npt.NDArray[np.int8]:
        """decisions[k, t]: the side chosen at bar t when the agent held SIDES[k] before it.

        The feature part of the first layer is computed once per bar and shared by the three
        positions; the same arithmetic as `predict`, so the same choices."""
        return self._decisions(features, None)

    def side_decisions_with_confidence(self, features: F32) -> tuple[I8, F32]:
        """`side_decisions` and, at the same [k, t], the chosen action's probability (as
        `predict` gives it: 1.0 for box policies)."""
        confidence = np.ones((len(SIDES), len(features)), dtype=np.float32)
        return self._decisions(features, confidence), confidence

    def _decisions(self, features: F32, confidence: F32 | None) -> I8:
        n = len(features)
        out = np.zeros((len(SIDES), n), dtype=np.int8)
        features_t, position, bias = self._split_first()
        normalize_features = self.normalization.features_only().apply
        no_features = np.zeros((1, self.obs_dim - 1), dtype=np.float32)
        held_norm = [
            self.normalization.apply(observations(no_features, held))[0, POSITION] for held in SIDES
        ]
        for lo in range(0, n, BATCH_ROWS):
            hi = min(n, lo + BATCH_ROWS)
            shared = normalize_features(features[lo:hi]) @ features_t
            for k, held in enumerate(SIDES):
                if held < 0 and not self.allow_short:
                    continue  # a long-only agent never holds −1: that row is never read
                result = self._output(shared + (held_norm[k] * position + bias))
                out[k, lo:hi] = self._sides(result, held)
                if confidence is not None and self.action_kind == "discrete":
                    exp = np.exp(result - result.max(axis=1, keepdims=True))
                    confidence[k, lo:hi] = exp.max(axis=1) / exp.sum(axis=1)
        return out

    def _sides(self, result: F32, held: int) -> I8:
        if self.action_kind == "discrete":
            return target_sides(result.argmax(axis=1), held, "discrete", self.allow_short)
        value = np.clip(result[:, 0], self.action_low, self.action_high)
        return target_sides(value, held, "box", self.allow_short)


def build_policy(
    weights: Mapping[str, npt.NDArray[Any]],
    normalization: Mapping[str, Any],
    config: Mapping[str, Any],
    feature_spec_doc: Mapping[str, Any],
    sha256: str = "",
) -> PolicyModel:
    """A `PolicyModel` from arrays and documents already in memory."""
    try:
        policy = config["policy"]
        net_arch = [int(w) for w in policy["net_arch"]]
        action = policy["action"]
        spec = FeatureSpec.from_dict(feature_spec_doc["spec"])
        layers = tuple(
            (
                np.asarray(weights[f"mlp_extractor.policy_net.{2 * i}.weight"], dtype=np.float32),
                np.asarray(weights[f"mlp_extractor.policy_net.{2 * i}.bias"], dtype=np.float32),
            )
            for i in range(len(net_arch))
        )
        head = (
            np.asarray(weights["action_net.weight"], dtype=np.float32),
            np.asarray(weights["action_net.bias"], dtype=np.float32),
        )
        model = PolicyModel(
            layers=layers,
            head=head,
            activation=str(policy["activation"]),
            action_kind=action["kind"],
            action_low=float(action.get("low", -1.0)),
            action_high=float(action.get("high", 1.0)),
            normalization=ObservationNormalization.from_document(normalization),
            feature_spec=spec,
            allow_short=bool(config.get("execution", {}).get("allow_short", False)),
            uses_sentiment=bool(config.get("sentiment", False)),
            sha256=sha256,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"bundle is incomplete or does not fit this code: {exc!r}") from exc
    if spec.spec_hash() != feature_spec_doc.get("spec_hash"):
        raise BundleError(
            f"feature spec hash mismatch: the bundle says {feature_spec_doc.get('spec_hash')}, "
            f"this code computes {spec.spec_hash()} (the features changed since training)"
        )
    if model.activation not in _ACTIVATIONS or model.action_kind not in ACTION_MODES:
        raise BundleError(f"unsupported policy: {model.activation} / {model.action_kind}")
    width = model.obs_dim
    for weight, bias in (*layers, head):
        if weight.ndim != 2 or weight.shape[1] != width or bias.shape != (weight.shape[0],):
            raise BundleError("the weights' shapes do not chain from the observation size")
        width = weight.shape[0]
    stats = model.normalization
    if stats.var.shape != stats.mean.shape or model.obs_dim != spec.n_features + 1:
        raise BundleError("normalisation statistics do not match the feature spec")
    return model


def read_policy(path: Path | str, expected_sha256: str | None = None) -> PolicyModel:
    """Load and verify the bundle at `path` (`velocitas.bundle.load_bundle`'s rule: its files
    and nothing else, its hashes) and rebuild its actor (safetensors, no pickle)."""
    return policy_from_bundle(load_bundle(path, expected_sha256))


def policy_from_bundle(bundle: LoadedBundle) -> PolicyModel:
    """The actor of a verified bundle, from the bytes it was verified on."""
    from safetensors import SafetensorError  # the only place here that needs safetensors
    from safetensors.numpy import load

    try:
        weights = load(bundle.files[WEIGHTS])
    except (SafetensorError, ValueError) as exc:
        raise BundleError(f"{WEIGHTS} cannot be decoded as safetensors: {exc}") from exc
    return build_policy(
        weights,
        bundle.json(NORMALIZATION),
        bundle.json(CONFIG),
        bundle.json(FEATURE_SPEC),
        bundle.sha256,
    )


def _one_blas_thread() -> AbstractContextManager[Any]:
    """BLAS limited to one thread where threadpoolctl is installed. These products are thin
    (21 to 64 columns): extra BLAS threads spin more than they compute (2.5x the CPU time
    measured), and workers already run one process per core."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it, numpy's own BLAS threading applies
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@njit(cache=True)
def _follow(decisions: npt.NDArray[np.int8], first: int) -> npt.NDArray[np.int8]:
    n = decisions.shape[1]
    signals = np.zeros(n, dtype=np.int8)
    held = 0
    for t in range(first, n):
        held = decisions[held + 1, t]  # SIDES = (-1, 0, 1): row = side + 1
        signals[t] = held
    return signals


@njit(cache=True)
def _follow_confidence(
    decisions: npt.NDArray[np.int8], confidence: F32, first: int
) -> npt.NDArray[np.float64]:
    """The probability of each action `_follow` takes (1 before `first`: no decision)."""
    n = decisions.shape[1]
    out = np.ones(n)
    held = 0
    for t in range(first, n):
        out[t] = confidence[held + 1, t]
        held = decisions[held + 1, t]
    return out


def policy_decisions(
    policy: PolicyModel, features: F32, first_bar: int | None = None
) -> tuple[I8, npt.NDArray[np.float64]]:
    """`policy_signals` and each bar's confidence: the probability the policy gave the action
    it took there (1.0 for box policies, whose action is a deterministic mean)."""
    if features.ndim != 2 or features.shape[1] + 1 != policy.obs_dim:
        raise ValueError(
            f"the policy expects {policy.obs_dim - 1} features per bar, got {features.shape}"
        )
    if first_bar is None:
        first_bar = policy.feature_spec.warmup
    first = min(first_bar, len(features))
    with _one_blas_thread():
        decisions, confidence = policy.side_decisions_with_confidence(
            np.ascontiguousarray(features, dtype=np.float32)
        )
    return _follow(decisions, first), _follow_confidence(decisions, confidence, first)


def policy_signals(policy: PolicyModel, features: F32, first_bar: int | None = None) -> I8:
    """The target side the policy chooses at every bar's close: 0 before `first_bar` (default:
    the feature warm-up), then its deterministic choice, as `TradingEnv` steps it from a flat
    start at `first_bar`.

    The observation holds the side currently targeted, so each decision depends on the previous
    one. Instead of one forward pass per bar, the network runs in large batches over every bar
    for each side the agent could hold (−1, 0, +1); a numba scan then follows the side actually
    taken. 1M bars cost three batched passes and one linear loop.
    """
    if features.ndim != 2 or features.shape[1] + 1 != policy.obs_dim:
        raise ValueError(
            f"the policy expects {policy.obs_dim - 1} features per bar, got {features.shape}"
        )
    if first_bar is None:
        first_bar = policy.feature_spec.warmup
    with _one_blas_thread():
        decisions = policy.side_decisions(np.ascontiguousarray(features, dtype=np.float32))
    return _follow(decisions, min(first_bar, len(features)))
