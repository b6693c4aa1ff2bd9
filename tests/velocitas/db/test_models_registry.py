"""velocitas.db.models_registry on the real embedded PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import psycopg
import pytest

from velocitas.db.models_registry import (
    ModelRecord,
    get_model,
    get_production_model,
    list_models,
    promote_model,
    register_model,
)
from velocitas.errors import Conflict, InvalidRequest, NotFound


def _record(version: str, symbol: str = "BTCUSDT") -> ModelRecord:
    day = datetime(2024, 1, 1, tzinfo=UTC)
    return ModelRecord(
        version=version,
        symbol=symbol,
        timeframe="1h",
        path=f"/models/{version}",
        sha256="a" * 64,
        feature_spec_hash="b" * 64,
        data_snapshot_hash="c" * 64,
        train_start=day,
        train_end=day.replace(month=6),
        validate_start=day.replace(month=6),
        validate_end=day.replace(month=9),
        metrics={"validation": {"total_return": 0.12}},
    )


def test_register_model_then_get_returns_candidate(database_url: str) -> None:
    stored = register_model(_record("m1"))
    assert stored.stage == "candidate"
    assert stored.created_at is not None
    again = get_model("m1")
    assert again == stored
    assert again.metrics == {"validation": {"total_return": 0.12}}


def test_register_model_twice_is_conflict(database_url: str) -> None:
    register_model(_record("m1"))
    with pytest.raises(Conflict, match="m1"):
        register_model(_record("m1"))


def test_get_model_unknown_is_not_found(database_url: str) -> None:
    with pytest.raises(NotFound):
        get_model("nope")
    with pytest.raises(NotFound):
        get_production_model()


def test_list_models_filters_and_orders_newest_first(database_url: str) -> None:
    register_model(_record("m1"))
    register_model(_record("m2", symbol="ETHUSDT"))
    register_model(_record("m3"))
    assert [m.version for m in list_models()] == ["m3", "m2", "m1"]
    assert [m.version for m in list_models(symbol="BTCUSDT")] == ["m3", "m1"]
    with pytest.raises(InvalidRequest) as excinfo:
        list_models(stage="retired")
    assert excinfo.value.field == "stage"


def test_promote_model_demotes_previous_production(database_url: str) -> None:
    register_model(_record("m1"))
    register_model(_record("m2"))
    first = promote_model("m1")
    assert first.stage == "production"
    assert first.promoted_at is not None
    promote_model("m2")
    assert get_model("m1").stage == "candidate"
    assert get_production_model().version == "m2"
    assert [m.version for m in list_models(stage="production")] == ["m2"]
    assert promote_model("m2").stage == "production"  # idempotent


def test_promote_model_unknown_is_not_found_and_keeps_production(database_url: str) -> None:
    register_model(_record("m1"))
    promote_model("m1")
    with pytest.raises(NotFound):
        promote_model("ghost")
    assert get_production_model().version == "m1"


def test_model_table_refuses_second_production_row(database_url: str) -> None:
    register_model(_record("m1"))
    register_model(replace(_record("m2")))
    promote_model("m1")
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("UPDATE model SET stage = 'production' WHERE version = 'm2'")
