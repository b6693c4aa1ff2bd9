"""The `symbol`/`at` form: the observation built from stored bars, as the lab's env builds it.

The environment's observation at bar t is `build_features(bars)[t]` followed by the side the
agent targets. Here t is the last bar of the model's timeframe that closed by `at` (its
`opened_at + timeframe <= at`), and the bars run from `start` (default: `ORACLE_HISTORY_BARS`
bars before it). Features only look backwards, so later bars cannot change the answer. A
policy trained with sentiment gets the analyst's score at each bar's close
(`velocitas.db.sentiment.bar_sentiment`, as the lab's evaluation reads it); others get 0, as in
training. The observation's layout is the agent contract's (`velocitas.agent.contract`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from velocitas.agent.contract import observations
from velocitas.agent.policy import PolicyModel
from velocitas.db.bars import load_bars
from velocitas.db.sentiment import bar_sentiment
from velocitas.domain.bars import from_epoch_ns
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest
from velocitas.features import build_features

__all__ = ["BuiltObservation", "observation_at"]


@dataclass(frozen=True)
class BuiltObservation:
    state: npt.NDArray[np.float64]
    """Shape (1, obs_dim): the feature row then the position."""
    bar_closed_at: datetime


def observation_at(
    policy: PolicyModel,
    timeframe: str,
    symbol: str,
    at: datetime,
    position: int,
    start: datetime | None,
    history_bars: int,
    database_url: str | None,
) -> BuiltObservation:
    """The observation for the bar of `symbol` that closed last by `at` (see the module doc)."""
    frame = Timeframe.parse(timeframe)
    # The bar that closed last by `at` opened one bar before the opening `at` falls in (or
    # at it, when `at` is itself an opening); `end` excludes later ones.
    end = frame.add(frame.floor(at), -1) + timedelta(microseconds=1)
    if start is None:
        start = frame.add(frame.floor(at), -1 - history_bars) + timedelta(microseconds=1)
    if start >= end:
        raise InvalidRequest(
            "`start` must be before the last bar that closed by `at`", field="start"
        )
    bars = load_bars(symbol, timeframe, start, end, database_url=database_url)
    spec = policy.feature_spec
    if len(bars) <= spec.warmup:
        raise InvalidRequest(
            f"{len(bars)} {timeframe} bars of {symbol!r} closed in [{start.isoformat()}, "
            f"{at.isoformat()}]; the features need at least {spec.warmup + 1}",
            field="at",
        )
    sentiment = bar_sentiment(bars) if policy.uses_sentiment else None
    features = build_features(bars, spec, sentiment)
    state = observations(features[-1:], position).astype(np.float64)
    last_open_ns = int(bars.opened_at[-1])
    closed_at = frame.add(from_epoch_ns(last_open_ns))
    return BuiltObservation(state=state, bar_closed_at=closed_at)
