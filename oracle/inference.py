"""The served policy's forward pass: one compiled kernel for one state or a batch.

`velocitas.agent.policy.PolicyModel` runs the actor with numpy: a dozen array operations, each
with a microsecond of dispatch, fine for back-testing a million bars in three batched passes but
tens of microseconds for a single state. Serving answers one state at a time, so the oracle
copies the same weights into a numba kernel: normalisation (in float64: the agent contract's
`ObservationNormalization.apply` written out, which a test holds equal), the hidden layers, the
head, softmax or clipping and the argmax, in one call. Every layer's weights sit transposed
(in, out) in one flat float32 array, so a call unboxes a handful of arrays and the inner loop
runs over independent outputs, which vectorises without reassociating any sum.

Layers accumulate in float32 in input order: outputs equal numpy's and torch's forward passes
to float32 rounding, and the chosen action is the same unless two action probabilities tie to
within that rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from velocitas.agent.policy import PolicyModel

__all__ = ["CompiledPolicy", "Prediction", "compile_policy"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_TANH, _RELU = 0, 1
_ACTIVATION_CODES = {"tanh": _TANH, "relu": _RELU}


@njit(cache=True, inline="always")
def _tanh(x: float) -> np.float32:
    # libm's tanhf costs ~35 ns here, 128 of them per state; one exp of a non-positive argument
    # in float64 is half that, never overflows, and rounds to float32 within one ulp of torch.
    e = math.exp(-2.0 * abs(x))
    y = (1.0 - e) / (1.0 + e)
    return np.float32(y if x >= 0.0 else -y)


@njit(cache=True, nogil=True)
def _forward(
    states: F64,
    mean: F64,
    std: F64,
    clip_obs: float,
    params: F32,
    layout: I64,
    activation: int,
    discrete: bool,
    low: float,
    high: float,
    width: int,
    out: F32,
    actions: I64,
    confidence: F32,
) -> None:
    """Row r of `states` -> `out[r]` (probabilities, or the clipped box action), `actions[r]`
    (argmax; 0 for box) and `confidence[r]` (probability of that action; 1 for box).

    `layout[k]` = (offset, n_in, n_out) of layer k in `params`: n_in·n_out weights (in, out)
    followed by n_out biases; the last layer is the action head.
    """
    n_rows = states.shape[0]
    n_layers = layout.shape[0]
    a = np.empty((n_rows, width), dtype=np.float32)
    b = np.empty((n_rows, width), dtype=np.float32)
    for r in range(n_rows):
        for i in range(states.shape[1]):
            v = (states[r, i] - mean[i]) / std[i]
            a[r, i] = np.float32(min(max(v, -clip_obs), clip_obs))
    n_out = 0
    for k in range(n_layers):
        offset, n_in, n_out = layout[k, 0], layout[k, 1], layout[k, 2]
        # 2-D views indexed by range variables only: numba then drops its negative-index
        # handling, and LLVM vectorises the loop over j.
        w = params[offset : offset + n_in * n_out].reshape((n_in, n_out))
        bias = params[offset + n_in * n_out : offset + n_in * n_out + n_out]
        hidden = k < n_layers - 1
        for r in range(n_rows):
            for j in range(n_out):
                b[r, j] = bias[j]
            for i in range(n_in):
                x = a[r, i]
                for j in range(n_out):
                    b[r, j] += x * w[i, j]
            if hidden and activation == _TANH:
                for j in range(n_out):
                    a[r, j] = _tanh(b[r, j])
            elif hidden:
                for j in range(n_out):
                    a[r, j] = max(b[r, j], np.float32(0.0))
    lo = np.float32(low)
    hi = np.float32(high)
    for r in range(n_rows):
        if discrete:
            top = b[r, 0]
            best = 0
            for j in range(1, n_out):
                if b[r, j] > top:
                    top = b[r, j]
                    best = j
            total = np.float32(0.0)
            for j in range(n_out):
                e = np.exp(b[r, j] - top)
                out[r, j] = e
                total += e
            for j in range(n_out):
                out[r, j] = out[r, j] / total
            actions[r] = best
            confidence[r] = out[r, best]
        else:
            for j in range(n_out):
                out[r, j] = min(max(b[r, j], lo), hi)
            actions[r] = 0
            confidence[r] = np.float32(1.0)


@dataclass(frozen=True)
class Prediction:
    """Per row: the action output, the deterministic action and its probability."""

    output: F32
    actions: I64
    confidence: F32


@dataclass(frozen=True)
class CompiledPolicy:
    """A `PolicyModel`'s actor laid out for `_forward`. Immutable, so threads share it."""

    mean: F64
    std: F64
    clip_obs: float
    params: F32
    layout: I64
    activation: int
    discrete: bool
    low: float
    high: float
    width: int
    obs_dim: int
    n_outputs: int

    def run(self, states: F64) -> Prediction:
        """Rows of `states` (n, obs_dim), float64, C-contiguous -> one `Prediction`."""
        n = states.shape[0]
        prediction = Prediction(
            np.empty((n, self.n_outputs), dtype=np.float32),
            np.empty(n, dtype=np.int64),
            np.empty(n, dtype=np.float32),
        )
        _forward(
            states,
            self.mean,
            self.std,
            self.clip_obs,
            self.params,
            self.layout,
            self.activation,
            self.discrete,
            self.low,
            self.high,
            self.width,
            prediction.output,
            prediction.actions,
            prediction.confidence,
        )
        return prediction


def compile_policy(policy: PolicyModel) -> CompiledPolicy:
    """Copy `policy`'s weights into the kernel's layout and run it once (JIT warm-up), so the
    first request after a (re)load is as fast as the next."""
    layers = (*policy.layers, policy.head)
    normalization = policy.normalization
    chunks: list[F32] = []
    layout = np.zeros((len(layers), 3), dtype=np.int64)
    offset = 0
    for k, (weight, bias) in enumerate(layers):
        n_out, n_in = weight.shape
        layout[k] = (offset, n_in, n_out)
        chunks += [np.ascontiguousarray(weight.T, dtype=np.float32).ravel(), bias]
        offset += n_in * n_out + n_out
    compiled = CompiledPolicy(
        mean=np.ascontiguousarray(normalization.mean, dtype=np.float64),
        # the contract's own √(var + ε), so the scaled state is bit-identical
        std=np.ascontiguousarray(normalization.scale, dtype=np.float64),
        clip_obs=float(normalization.clip_obs),
        params=np.concatenate(chunks).astype(np.float32),
        layout=layout,
        activation=_ACTIVATION_CODES[policy.activation],
        discrete=policy.action_kind == "discrete",
        low=float(policy.action_low),
        high=float(policy.action_high),
        width=max(policy.obs_dim, *(w.shape[0] for w, _ in layers)),
        obs_dim=policy.obs_dim,
        n_outputs=int(policy.head[0].shape[0]),
    )
    compiled.run(np.zeros((1, compiled.obs_dim)))
    return compiled
