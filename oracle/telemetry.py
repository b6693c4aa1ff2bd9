"""The oracle's metrics: inference latency, and which model version it serves.

`velocitas_oracle_inference_seconds` times the policy's forward pass alone (one request's
state, or its whole batch), not parsing or building an observation; the HTTP histogram has the
whole request. `velocitas_oracle_model_info{version}` is 1 for the version served, 0 for one it
served before in this process.
"""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

from oracle.inference import CompiledPolicy, Prediction
from velocitas.telemetry import LATENCY_BUCKETS

__all__ = ["INFERENCE", "MODEL_INFO", "infer", "serving"]

INFERENCE = Histogram(
    "velocitas_oracle_inference_seconds",
    "Time of the policy's forward pass for one request (a state or a batch).",
    buckets=(0.00005, 0.0001, 0.00025, *LATENCY_BUCKETS),
)
MODEL_INFO = Gauge(
    "velocitas_oracle_model_info",
    "1 for the model version this oracle serves (0 for one it served before).",
    ["version"],
    multiprocess_mode="livemax",
)


def infer(policy: CompiledPolicy, states: object) -> Prediction:
    """`policy.run(states)`, timed."""
    with INFERENCE.time():
        return policy.run(states)  # type: ignore[arg-type]


def serving(version: str, before: str | None) -> None:
    """The oracle now serves `version` (instead of `before`)."""
    if before is not None and before != version:
        MODEL_INFO.labels(before).set(0)
    MODEL_INFO.labels(version).set(1)
