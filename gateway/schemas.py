"""Response schemas of the job routes. Money is a decimal string in JSON, never a float."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, create_model

from velocitas.db.jobs import TRADE_COLUMNS
from velocitas.domain.events import JobKind, JobStatus
from velocitas.domain.trades import Trade

_Model = TypeVar("_Model", bound=BaseModel)


class BacktestAccepted(BaseModel):
    """The answer to a submission: the job's id and status; `Location` points at it."""

    id: uuid.UUID
    status: JobStatus


class JobPublic(BaseModel):
    """A job: status, progress and timings; once succeeded, `summary` holds the report."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: JobKind
    status: JobStatus
    progress: float
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    spec: dict[str, Any]
    summary: dict[str, Any] | None
    data_snapshot_hash: str | None
    engine_version: str | None
    parent_id: uuid.UUID | None


class JobPage(BaseModel):
    items: list[JobPublic]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


def _with_stored_trade_fields(model: type[_Model]) -> type[_Model]:
    """`model` followed by the fields a stored trade keeps, typed as `velocitas.domain.Trade`
    declares them: the trade's API shape is the domain's, never a copy of it."""
    types = get_type_hints(Trade)
    fields: dict[str, Any] = {name: (types[name], ...) for name in TRADE_COLUMNS}
    return create_model(model.__name__, __base__=model, __module__=model.__module__, **fields)


@_with_stored_trade_fields
class TradePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int


class TradePage(BaseModel):
    items: list[TradePublic]
    next_after: int | None
    """Pass as `after` for the next page; null on the last page."""


class EquityPointPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    opened_at: datetime
    equity: Decimal


class EquityPage(BaseModel):
    items: list[EquityPointPublic]
    next_after: int | None
    """Pass as `after` for the next page; null on the last page."""
