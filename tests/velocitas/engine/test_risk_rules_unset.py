"""The new risk rules change nothing unless they bind: a run with them unset, or set to limits
no run reaches, gives the very result (hash included) of a run without them."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.velocitas.engine.test_risk_rules import busy_sides, hourly_bars, make_spec
from velocitas.engine.runner import run_signals

LOOSE = {
    "max_trades_per_day": 1_000_000,
    "max_holding_bars": 1_000_000,
    "min_confidence": "0",
    "flat_at_session_close": True,  # on 24/7 bars: no session ever closes
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    legs=st.integers(1, 3),
    fill=st.sampled_from(["next_open", "same_close"]),
    hold=st.integers(1, 12),
    loose=st.sets(st.sampled_from(sorted(LOOSE)), min_size=1),
    stops=st.booleans(),
    daily_loss=st.booleans(),
)
def test_rules_that_never_bind_leave_the_result_unchanged(
    seed: int,
    legs: int,
    fill: str,
    hold: int,
    loose: set[str],
    stops: bool,
    daily_loss: bool,
) -> None:
    n = 240
    bars = [hourly_bars(n, seed=seed + i, symbol=f"S{i}" if legs > 1 else "T") for i in range(legs)]
    sides = [busy_sides(n, seed=seed + 100 + i, hold=hold) for i in range(legs)]
    base: dict[str, Any] = {"fill": fill, "calendar": "crypto"}
    if stops:
        base["stops"] = {"stop_loss": {"kind": "percent", "value": "0.01"}}
    risk: dict[str, Any] = {"max_daily_loss": "0.05"} if daily_loss else {}
    plain = run_signals(make_spec(legs=legs, risk=risk, **base), bars, sides)
    rules = {name: LOOSE[name] for name in loose} | {"max_open_positions": legs}
    confidences = [np.random.default_rng(seed + i).uniform(0, 1, n) for i in range(legs)]
    ruled = run_signals(make_spec(legs=legs, risk=risk | rules, **base), bars, sides, confidences)
    assert ruled.result_hash == plain.result_hash
    assert ruled.to_dict() == plain.to_dict()
    unset = {
        "max_trades_per_day": None,
        "max_open_positions": None,
        "max_holding_bars": None,
        "min_confidence": None,
        "flat_at_session_close": False,
    }
    explicit = run_signals(make_spec(legs=legs, risk=risk | unset, **base), bars, sides)
    assert explicit.result_hash == plain.result_hash
