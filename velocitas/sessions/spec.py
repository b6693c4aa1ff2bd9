"""`SessionSpec`: what a trading session trades, on which feed, at which speed.

A session is a backtest spec (legs on one account, fees, sizing, stops, risk rules, calendar)
played forward in time: the same fields mean the same things, so `POST /backtests` with a
session's `backtest_spec()` and the same bars gives the fills a session at `speed="max"` with
no manual order gives.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from velocitas.engine.spec import BacktestSpec

__all__ = ["MAX_SPEED", "SessionSpec", "checked_speed"]

MAX_SPEED = 1_000_000.0
"""The fastest finite replay: a million times real time (a 1m bar every 60 us)."""


def checked_speed(value: float | str) -> float | Literal["max"]:
    """`"max"`, or a speed in (0, MAX_SPEED] as a float; ValueError naming the range otherwise."""
    if value == "max":
        return "max"
    speed = float(value)
    if not (0 < speed <= MAX_SPEED):  # NaN fails too
        raise ValueError(f"speed must be 'max' or a number in (0, {MAX_SPEED:g}]")
    return speed


class SessionSpec(BacktestSpec):
    """A backtest spec plus how to replay it: `speed` is real time x N (`"max"`: as fast as
    the engine goes), `seed` the seed of the intrabar ticks, `ticks_per_bar` how many
    ticks each bar is cut into (None: the timeframe's default), `tick_batch` how many ticks
    travel in one WebSocket message."""

    name: str = Field(default="", max_length=128)
    feed: Literal["replay"] = "replay"
    speed: float | Literal["max"] = Field(default=1.0)
    seed: int = Field(default=0, ge=0, lt=2**53)  # the engine's tick_seed range
    ticks_per_bar: int | None = Field(default=None, ge=4, le=10_000)
    tick_batch: int = Field(default=10, ge=1, le=1_000)

    @field_validator("speed")
    @classmethod
    def _finite_positive_speed(cls, value: float | str) -> float | str:
        return checked_speed(value)

    def backtest_spec(self) -> BacktestSpec:
        """The backtest this session replays: the same fields, with stops walked along the
        session's own ticks (`intrabar_path="bridge"`, `tick_seed=seed`, `ticks_per_bar`), so
        `run_backtest(spec.backtest_spec(), bars)` gives the fills of this session at
        `speed="max"` with no manual order."""
        # Only the fields given (exclude_unset): defaults the backtest infers stay inferred.
        data = self.model_dump(include=set(BacktestSpec.model_fields), exclude_unset=True)
        spec = BacktestSpec.model_validate(data)
        stops = spec.stops.model_copy(
            update={
                "intrabar_path": "bridge",
                "tick_seed": self.seed,
                "ticks_per_bar": self.ticks_per_bar,
            }
        )
        return spec.model_copy(update={"stops": stops})
