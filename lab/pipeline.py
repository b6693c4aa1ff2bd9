"""The lab's workflows over PostgreSQL: train and register, evaluate a registered model."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lab.bundle import write_bundle
from lab.evaluation import Comparison, backtest_policy, compare_with_rules
from lab.training import ProgressFn, TrainConfig, library_versions, slug, train_policy
from velocitas.agent.policy import PolicyModel, read_policy
from velocitas.db.bars import load_bars, snapshot_hash
from velocitas.db.models_registry import ModelRecord, get_model, register_model
from velocitas.db.sentiment import bar_sentiment
from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestSpec
from velocitas.errors import InvalidRequest
from velocitas.features import FeatureSpec
from velocitas.settings import get_settings
from velocitas.strategies import registry
from velocitas.timeparse import parse_instant

__all__ = ["Window", "evaluate_model", "load_registered_policy", "models_dir", "train_and_register"]


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range [start, end)."""

    start: datetime
    end: datetime

    @classmethod
    def parse(cls, text: str, field: str) -> Window:
        """`START:END` with ISO-8601 dates or instants (UTC when no offset is given)."""
        for at in [i for i, ch in enumerate(text) if ch == ":"]:
            try:
                start = parse_instant(text[:at], field=field)
                end = parse_instant(text[at + 1 :], field=field)
            except InvalidRequest:
                continue
            if end <= start:
                raise InvalidRequest(f"{text!r}: END must be after START", field=field)
            return cls(start, end)
        raise InvalidRequest(f"{text!r} is not START:END (e.g. 2024-01-01:2024-06-01)", field=field)

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end


def models_dir() -> Path:
    return get_settings().home / "models"


def _load(symbol: str, timeframe: str, window: Window, field: str, need: int) -> BarArrays:
    bars = load_bars(symbol, timeframe, window.start, window.end)
    if len(bars) < need:
        raise InvalidRequest(
            f"{len(bars)} {timeframe} bars of {symbol!r} in [{window.start.isoformat()}, "
            f"{window.end.isoformat()}); at least {need} are needed (feature warm-up + 2)",
            field=field,
        )
    return bars


def train_and_register(config: TrainConfig, on_progress: ProgressFn | None = None) -> ModelRecord:
    """Load the windows' bars, train, write the bundle under VELOCITAS_HOME/models, register it
    as a candidate. Nothing is registered when any step fails."""
    train = Window(config.train_start, config.train_end)
    validate = Window(config.validate_start, config.validate_end)
    if train.overlaps(validate):
        raise InvalidRequest("the validation window overlaps the training window", field="validate")
    need = config.feature_spec.warmup + 2
    train_bars = _load(config.symbol, config.timeframe, train, "train", need)
    validate_bars = _load(config.symbol, config.timeframe, validate, "validate", need)
    hashes = {
        "train": snapshot_hash(config.symbol, config.timeframe, train.start, train.end),
        "validate": snapshot_hash(config.symbol, config.timeframe, validate.start, validate.end),
    }
    data_hash = hashlib.sha256(
        f"train={hashes['train']}\nvalidate={hashes['validate']}\n".encode()
    ).hexdigest()
    sentiment = (
        (bar_sentiment(train_bars), bar_sentiment(validate_bars))
        if config.sentiment
        else (None, None)
    )
    trained = train_policy(config, train_bars, validate_bars, on_progress, sentiment)
    root = models_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".staging-{uuid.uuid4().hex}"
    try:
        sha = write_bundle(
            staging,
            state_dict=trained.state_dict,
            normalization=trained.normalization,
            feature_spec=trained.feature_spec_doc,
            config={
                **trained.config,
                "data": {"snapshot_hash": data_hash, "snapshots": hashes},
            },
            versions=library_versions(),
            training=trained.training,
        )
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        version = f"{slug(config.symbol)}-{slug(config.timeframe)}-{stamp}-{sha[:8]}"
        final = root / version
        suffix = 1
        while final.exists():  # the same run twice within a second: same stamp, same hash
            suffix += 1
            final = root / f"{version}-{suffix}"
        version = final.name
        staging.rename(final)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    record = ModelRecord(
        version=version,
        symbol=config.symbol,
        timeframe=config.timeframe,
        path=str(final),
        sha256=sha,
        feature_spec_hash=trained.feature_spec_doc["spec_hash"],
        data_snapshot_hash=data_hash,
        train_start=train.start,
        train_end=train.end,
        validate_start=validate.start,
        validate_end=validate.end,
        metrics={
            "validation": trained.training["validation_metrics"],
            "best": trained.training["best"],
        },
    )
    try:
        return register_model(record)
    except Exception:
        shutil.rmtree(final, ignore_errors=True)
        raise


def load_registered_policy(version: str) -> tuple[ModelRecord, PolicyModel]:
    """The registry row and its verified bundle (sha256 checked against the registry)."""
    record = get_model(version)
    return record, read_policy(Path(record.path), expected_sha256=record.sha256)


def evaluate_model(version: str, test: Window, rule_names: list[str] | None = None) -> Comparison:
    """Back-test a registered policy on the test window, beside buy-and-hold and the best rule."""
    record, policy = load_registered_policy(version)
    spec: FeatureSpec = policy.feature_spec
    train = Window(record.train_start, record.train_end)
    if test.overlaps(train):
        raise InvalidRequest("the test window overlaps the training window", field="test")
    bars = _load(record.symbol, record.timeframe, test, "test", spec.warmup + 2)
    execution = BacktestSpec.model_validate(
        {
            **_execution_document(record),
            "start": test.start,
            "end": test.end,
        }
    )
    sentiment = bar_sentiment(bars) if policy.uses_sentiment else None
    result = backtest_policy(policy, bars, execution, sentiment=sentiment, model_version=version)
    if rule_names is None:
        rule_names = registry.names()
    return compare_with_rules(result, bars, execution, rule_names)


def _execution_document(record: ModelRecord) -> dict[str, Any]:
    config = json.loads((Path(record.path) / "config.json").read_text())
    return dict(config["execution"])
