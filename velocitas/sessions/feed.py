"""Feeds: where a session's market comes from. `ReplayFeed` plays stored bars as a live stream.

What a feed gives a session (and what a live exchange adapter must give too):

- `bars`: the bars of each symbol the session trades, as `BarArrays` keyed by symbol. A replay
  knows them all in advance (stored bars from PostgreSQL, [start, end)); a live adapter gives
  the history so far and appends each bar when it closes (the session decides at the close);
- ticks between closes: prices inside the bar being formed. A replay draws them from the seeded
  Brownian bridge (`velocitas.engine.ticks`, deterministic from seed, symbol and bar time); a
  live adapter forwards the exchange's trades;
- a clock: `wait_until(market_ns)` blocks until the market instant is due. A replay maps market
  time to wall time at `speed` x real time (`"max"`: never waits); a live clock is the wall
  clock. `rebase` restarts the mapping after a pause, so a resumed replay does not rush to
  catch up.

A live adapter plugs in behind this interface without touching the session: the runner only
asks for bars, ticks and the time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal, Protocol

from velocitas.domain.bars import BarArrays
from velocitas.sessions.spec import SessionSpec

__all__ = ["Feed", "ReplayFeed", "load_replay_bars"]

_MAX_WAIT_S = 0.25  # wait in slices so a stop or a lost lease is noticed promptly


class Feed(Protocol):
    speed: float | Literal["max"]
    """Real time x N (`"max"`: never waits). A replay's may change while it runs (the caller
    then rebases); a live feed's is 1, the wall clock."""

    def bars(self) -> Mapping[str, BarArrays]:
        """The bars of every symbol of the session, keyed by symbol."""

    def wait_until(self, market_ns: int, keep_going: Callable[[], bool]) -> bool:
        """Block until market instant `market_ns` is due; False if `keep_going` turned False."""

    def rebase(self, market_ns: int) -> None:
        """Market instant `market_ns` is now (after a pause or a resume)."""


def load_replay_bars(spec: SessionSpec) -> dict[str, BarArrays]:
    """The stored bars of every symbol of `spec` in [start, end), through the bar cache the
    backtest jobs read (`velocitas.db.bar_cache`)."""
    from velocitas.db.bar_cache import load_bars_cached  # the DB only where a replay runs

    return {
        symbol: load_bars_cached(symbol, spec.timeframe, spec.start, spec.end)[0]
        for symbol in spec.symbols
    }


class ReplayFeed:
    """Stored bars replayed at `speed` x real time (`"max"`: as fast as the engine goes)."""

    def __init__(
        self,
        bars: Mapping[str, BarArrays],
        speed: float | Literal["max"],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._bars = bars
        self.speed = speed
        self._monotonic = monotonic
        self._sleep = sleep
        self._origin: tuple[int, float] | None = None  # (market ns, wall s) that coincide

    @classmethod
    def for_spec(cls, spec: SessionSpec, start: datetime | None = None) -> ReplayFeed:
        """The stored bars of `spec` (from `start`, a time travel inside the range, if given)."""
        bars = load_replay_bars(spec)
        if start is not None:
            bars = {s: b.between(start, spec.end) for s, b in bars.items()}
        return cls(bars, spec.speed)

    def bars(self) -> Mapping[str, BarArrays]:
        return self._bars

    def rebase(self, market_ns: int) -> None:
        self._origin = (market_ns, self._monotonic())

    def wall_due(self, market_ns: int) -> float:
        """The monotonic wall instant at which `market_ns` is due (now at speed max)."""
        if self.speed == "max":
            return self._monotonic()
        if self._origin is None:
            self.rebase(market_ns)
        assert self._origin is not None
        market0, wall0 = self._origin
        return wall0 + (market_ns - market0) / 1e9 / float(self.speed)

    def wait_until(self, market_ns: int, keep_going: Callable[[], bool]) -> bool:
        if self.speed == "max":
            return keep_going()
        due = self.wall_due(market_ns)
        while True:
            if not keep_going():
                return False
            left = due - self._monotonic()
            if left <= 0:
                return True
            self._sleep(min(left, _MAX_WAIT_S))
