"""Test data for the oracle: registered random-weights bundles and stored bars."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from tests.lab.factories import make_bundle
from velocitas.db.models_registry import ModelRecord, register_model
from velocitas.domain.bars import BarArrays
from velocitas.features import FeatureSpec

WINDOW = datetime(2024, 1, 1, tzinfo=UTC)


def bundle_record(path: Path, version: str, sha256: str, symbol: str = "TEST") -> ModelRecord:
    return ModelRecord(
        version=version,
        symbol=symbol,
        timeframe="1h",
        path=str(path),
        sha256=sha256,
        feature_spec_hash=FeatureSpec().spec_hash(),
        data_snapshot_hash="0" * 64,
        train_start=WINDOW,
        train_end=WINDOW,
        validate_start=WINDOW,
        validate_end=WINDOW,
        metrics={},
    )


def new_bundle(root: Path, version: str, **kwargs: Any) -> ModelRecord:
    """Write a random-weights bundle under `root` (not registered)."""
    path = root / version
    sha = make_bundle(path, **kwargs)
    return bundle_record(path, version, sha)


def registered_bundle(root: Path, version: str, **kwargs: Any) -> ModelRecord:
    """Write a random-weights bundle under `root` and register it as a candidate."""
    return register_model(new_bundle(root, version, **kwargs))


def store_bars(url: str, bars: BarArrays) -> None:
    rows = [
        (
            bars.symbol,
            bars.timeframe,
            datetime.fromtimestamp(int(bars.opened_at[i]) / 1e9, tz=UTC),
            *(Decimal(repr(float(col[i]))) for col in (bars.open, bars.high, bars.low)),
            Decimal(repr(float(bars.close[i]))),
            Decimal(repr(float(bars.volume[i]))),
        )
        for i in range(len(bars))
    ]
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO bar (symbol, timeframe, opened_at, open, high, low, close, volume) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
