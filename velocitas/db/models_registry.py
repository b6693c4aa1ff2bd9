"""Persistence of the model registry: register, list, read and promote trained policy bundles.

The lab writes rows here after training; the oracle and the worker read them to find a bundle.
Stages: `candidate` (every new model) and `production` (at most one at a time).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from velocitas.db.engine import session_scope
from velocitas.db.models.lab import MODEL_STAGES, Model
from velocitas.errors import Conflict, InvalidRequest, NotFound
from velocitas.settings import Settings

__all__ = [
    "ModelRecord",
    "get_model",
    "get_production_model",
    "list_models",
    "promote_model",
    "register_model",
]


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """One registered model, detached from any session."""

    version: str
    symbol: str
    timeframe: str
    path: str
    sha256: str
    feature_spec_hash: str
    data_snapshot_hash: str
    train_start: datetime
    train_end: datetime
    validate_start: datetime
    validate_end: datetime
    metrics: dict[str, Any]
    stage: str = "candidate"
    created_at: datetime | None = None
    promoted_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: instants as ISO-8601 strings."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data


def _record(row: Model) -> ModelRecord:
    return ModelRecord(
        version=row.version,
        symbol=row.symbol,
        timeframe=row.timeframe,
        path=row.path,
        sha256=row.sha256,
        feature_spec_hash=row.feature_spec_hash,
        data_snapshot_hash=row.data_snapshot_hash,
        train_start=row.train_start,
        train_end=row.train_end,
        validate_start=row.validate_start,
        validate_end=row.validate_end,
        metrics=dict(row.metrics or {}),
        stage=row.stage,
        created_at=row.created_at,
        promoted_at=row.promoted_at,
    )


def register_model(record: ModelRecord, settings: Settings | None = None) -> ModelRecord:
    """Insert `record` as a candidate; `Conflict` if its version is already registered."""
    values = asdict(record)
    for key in ("stage", "created_at", "promoted_at"):
        values.pop(key)
    try:
        with session_scope(settings) as session:
            row = Model(**values, stage="candidate")
            session.add(row)
            session.flush()
            session.refresh(row)
            return _record(row)
    except IntegrityError as exc:
        raise Conflict(f"model version {record.version!r} is already registered") from exc


def get_model(version: str, settings: Settings | None = None) -> ModelRecord:
    """The registered model `version`; `NotFound` if there is none."""
    with session_scope(settings) as session:
        row = session.get(Model, version)
        if row is None:
            raise NotFound(f"no registered model with version {version!r}")
        return _record(row)


def get_production_model(settings: Settings | None = None) -> ModelRecord:
    """The model in stage `production`; `NotFound` if none was promoted yet."""
    with session_scope(settings) as session:
        row = session.scalars(select(Model).where(Model.stage == "production")).first()
        if row is None:
            raise NotFound("no model is in production; promote one with `velocitas lab promote`")
        return _record(row)


def list_models(
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    stage: str | None = None,
    settings: Settings | None = None,
) -> list[ModelRecord]:
    """Registered models, newest first, optionally filtered."""
    if stage is not None and stage not in MODEL_STAGES:
        raise InvalidRequest(f"stage must be one of {', '.join(MODEL_STAGES)}", field="stage")
    query = select(Model).order_by(Model.created_at.desc(), Model.version.desc())
    if symbol is not None:
        query = query.where(Model.symbol == symbol)
    if timeframe is not None:
        query = query.where(Model.timeframe == timeframe)
    if stage is not None:
        query = query.where(Model.stage == stage)
    with session_scope(settings) as session:
        return [_record(row) for row in session.scalars(query)]


def promote_model(version: str, settings: Settings | None = None) -> ModelRecord:
    """Make `version` the production model and demote the previous one, in one transaction.

    Promoting the model already in production changes nothing. A concurrent promotion that
    commits first makes this one fail with `Conflict` (the one-production index), never leaves
    two production rows."""
    try:
        with session_scope(settings) as session:
            row = session.get(Model, version, with_for_update=True)
            if row is None:
                raise NotFound(f"no registered model with version {version!r}")
            if row.stage == "production":
                return _record(row)
            session.execute(
                update(Model).where(Model.stage == "production").values(stage="candidate")
            )
            row.stage = "production"
            row.promoted_at = session.scalar(select(func.now()))
            session.flush()
            session.refresh(row)
            return _record(row)
    except IntegrityError as exc:
        raise Conflict(f"another promotion ran at the same time as {version!r}; retry") from exc
