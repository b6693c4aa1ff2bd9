"""Bars kept in memory between jobs, for as long as no bar has changed.

Research repeats itself: a sweep's runs, a walk-forward's folds and a quant's next idea read the
same bars again and again. A worker process keeps what it loaded, keyed by series and range,
together with the `bar_data_version` it read them under; before reusing them it reads the
current version (one indexed row, through the pooled connection: well under a millisecond).
Equal means no statement has written `bar` since (a trigger bumps it, whoever writes), so the
bars, and the snapshot hash recorded with a job, are exactly what a fresh read would give.
Different means the entry is dropped and read again.

The version is read before the bars, so a write committed in between can only make an entry's
bars newer than its version: the next call then sees a different version and re-reads. Never the
reverse (old bars under a new version), which would serve stale data.

Cached arrays are shared between callers, so they are made read-only: a caller that wrote into
them would get an error instead of corrupting the next job's input. The cache holds at most
`BAR_CACHE_MB` megabytes per process (least recently used entries go first); 0 turns it off.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import text

from velocitas import embedded
from velocitas.db.bars import load_bars_with_snapshot
from velocitas.db.engine import get_engine
from velocitas.domain.bars import BarArrays
from velocitas.domain.timeframe import Timeframe
from velocitas.settings import get_settings
from velocitas.telemetry import (
    BAR_CACHE_BYTES,
    BAR_CACHE_HIT_BYTES,
    BAR_CACHE_HITS,
    BAR_CACHE_MISSES,
)

__all__ = ["BarCache", "bar_data_version", "load_bars_cached"]


def bar_data_version() -> int:
    """The configured database's current `bar_data_version`."""
    with get_engine().connect() as conn:
        return int(conn.execute(text("SELECT version FROM bar_data_version")).scalar_one())


@dataclass(frozen=True, slots=True)
class _Entry:
    version: int
    bars: BarArrays
    digest: str
    nbytes: int


class BarCache:
    """A least-recently-used map of (database, symbol, timeframe, range) to bars, bounded in
    bytes. Thread-safe; one per process is enough (`load_bars_cached` uses one)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[object, ...], _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def load(
        self,
        symbol: str,
        timeframe: Timeframe | str,
        start: datetime | None,
        end: datetime | None,
    ) -> tuple[BarArrays, str]:
        """`load_bars_with_snapshot(symbol, timeframe, start, end)`, from memory when current."""
        if self.limit_bytes <= 0:
            return load_bars_with_snapshot(symbol, timeframe, start, end)
        key = (embedded.database_url(get_settings()), symbol, str(timeframe), start, end)
        version = bar_data_version()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version == version:
                self._entries.move_to_end(key)
                self.hits += 1
                BAR_CACHE_HITS.inc()
                BAR_CACHE_HIT_BYTES.inc(entry.nbytes)
                return entry.bars, entry.digest
        bars, digest = load_bars_with_snapshot(symbol, timeframe, start, end)
        _freeze(bars)
        self._store(key, _Entry(version, bars, digest, _nbytes(bars)))
        return bars, digest

    def _store(self, key: tuple[object, ...], entry: _Entry) -> None:
        with self._lock:
            self.misses += 1
            BAR_CACHE_MISSES.inc()
            held = self._bytes
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            if entry.nbytes <= self.limit_bytes:  # else larger than the whole cache: not kept
                self._entries[key] = entry
                self._bytes += entry.nbytes
                while self._bytes > self.limit_bytes:
                    _, evicted = self._entries.popitem(last=False)
                    self._bytes -= evicted.nbytes
            BAR_CACHE_BYTES.inc(self._bytes - held)


def _columns(bars: BarArrays) -> tuple[np.ndarray, ...]:
    return (bars.opened_at, bars.open, bars.high, bars.low, bars.close, bars.volume)


def _nbytes(bars: BarArrays) -> int:
    return sum(column.nbytes for column in _columns(bars))


def _freeze(bars: BarArrays) -> None:
    for column in _columns(bars):
        column.flags.writeable = False


_cache = BarCache(int(get_settings().bar_cache_mb * 1024 * 1024))


def load_bars_cached(
    symbol: str,
    timeframe: Timeframe | str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[BarArrays, str]:
    """Bars and snapshot hash of `symbol` in [start, end) from this process's cache when no bar
    has changed since they were read, else from PostgreSQL (then kept)."""
    return _cache.load(symbol, timeframe, start, end)
