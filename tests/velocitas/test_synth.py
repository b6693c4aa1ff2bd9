"""Synthetic bars: deterministic bytes per seed, valid OHLC, plausible dynamics."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest
from velocitas.synth import (
    REGIMES,
    TREND_REGIMES,
    iso_text,
    synth_bars,
    synth_regimes,
    write_csv,
    write_parquet,
)


def test_synth_bars_same_seed_gives_same_file_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        table = synth_bars(5000, Timeframe.M5, seed=11)
        write_csv(table, tmp_path / f"{name}.csv")
        write_parquet(table, tmp_path / f"{name}.parquet")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    write_csv(synth_bars(5000, Timeframe.M5, seed=12), tmp_path / "c.csv")
    assert (tmp_path / "c.csv").read_bytes() != (tmp_path / "a.csv").read_bytes()


def test_synth_bars_are_valid_ohlc_with_8_decimals() -> None:
    table = synth_bars(20_000, Timeframe.M1, seed=3)
    rows = table.to_pylist()
    previous_close = None
    for row in rows:
        o, h, low, c, v = (Decimal(row[k]) for k in ("open", "high", "low", "close", "volume"))
        assert all(len(row[k].split(".")[1]) == 8 for k in ("open", "high", "low", "close"))
        assert h >= max(o, c)
        assert 0 < low <= min(o, c)
        assert v > 0
        assert previous_close is None or o == previous_close
        previous_close = c
    assert rows[0]["opened_at"] == "2024-01-01T00:00:00Z"
    assert rows[1]["opened_at"] == "2024-01-01T00:01:00Z"


def test_synth_bars_cluster_volatility_and_tie_volume_to_it() -> None:
    table = synth_bars(50_000, Timeframe.M1, seed=5)
    close = np.array(table.column("close").to_pylist(), dtype=float)
    volume = np.array(table.column("volume").to_pylist(), dtype=float)
    returns = np.diff(np.log(close))
    size = np.abs(returns)
    # Volatility clustering: big moves follow big moves (|r| is autocorrelated).
    assert np.corrcoef(size[:-1], size[1:])[0, 1] > 0.05
    assert np.corrcoef(size, volume[1:])[0, 1] > 0.1


def test_synth_bars_start_must_be_on_the_grid() -> None:
    with pytest.raises(InvalidRequest) as caught:
        synth_bars(10, Timeframe.H1, seed=1, start=datetime(2024, 1, 1, 0, 30, tzinfo=UTC))
    assert caught.value.field == "start"


def test_synth_bars_come_in_timeframes_within_a_day() -> None:
    for timeframe in (Timeframe.W1, Timeframe.MO1):
        with pytest.raises(InvalidRequest) as caught:
            synth_bars(10, timeframe, seed=1)
        assert caught.value.field == "timeframe"


@pytest.mark.parametrize("timeframe", list(Timeframe)[: list(Timeframe).index(Timeframe.D1) + 1])
def test_iso_text_matches_strftime(timeframe: Timeframe) -> None:
    seconds = 1_700_000_000 // timeframe.seconds * timeframe.seconds
    grid = seconds + np.arange(3000, dtype=np.int64) * timeframe.seconds
    expected = pc.strftime(
        pa.array(grid, type=pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ"
    )
    assert iso_text(grid, timeframe.seconds).equals(expected)


def test_synth_regimes_are_the_path_the_bars_follow() -> None:
    regime = synth_regimes(40_000, Timeframe.M5, seed=4)
    assert set(np.unique(regime).tolist()) == {0, 1, 2}
    assert (np.diff(regime) != 0).sum() > 10  # switches, each to a different regime
    table = synth_bars(40_000, Timeframe.M5, seed=4)
    close = np.array(table.column("close").to_pylist(), dtype=float)
    size = np.abs(np.diff(np.log(close)))
    # REGIMES' volatilities 0.45, 0.95, 0.30: the planted labels order the bars' move sizes
    means = [size[regime[1:] == k].mean() for k in range(3)]
    assert means[2] < means[0] < means[1]


def test_synth_bars_regime_options_leave_the_default_bars_alone() -> None:
    default = synth_bars(3_000, Timeframe.H1, seed=9)
    assert synth_bars(3_000, Timeframe.H1, seed=9, regimes=REGIMES).equals(default)
    mean = max(20.0, 5 * 86_400 / Timeframe.H1.seconds)
    assert synth_bars(3_000, Timeframe.H1, seed=9, mean_regime_bars=mean).equals(default)
    planted = synth_bars(3_000, Timeframe.H1, seed=9, regimes=TREND_REGIMES)
    assert not planted.equals(default)
    with pytest.raises(InvalidRequest) as caught:
        synth_regimes(10, Timeframe.H1, seed=1, mean_regime_bars=0.5)
    assert caught.value.field == "mean_regime_bars"
