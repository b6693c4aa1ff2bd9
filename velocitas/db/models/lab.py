"""The model registry: one row per trained policy bundle written by the lab."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from velocitas.db.models.base import Base

MODEL_STAGES = ("candidate", "production")


class Model(Base):
    """A registered policy bundle. At most one row is in stage `production` at any time (a
    partial unique index enforces it, so two concurrent promotions cannot both win)."""

    __tablename__ = "model"

    version: Mapped[str] = mapped_column(String(100), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32))
    timeframe: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    feature_spec_hash: Mapped[str] = mapped_column(String(64))
    data_snapshot_hash: Mapped[str] = mapped_column(String(64))
    train_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    train_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    validate_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    validate_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    stage: Mapped[str] = mapped_column(String(16), server_default="candidate")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        CheckConstraint("stage IN ('candidate', 'production')", name="stage"),
        Index(
            "uq_model_one_production",
            "stage",
            unique=True,
            postgresql_where=text("stage = 'production'"),
        ),
        Index("ix_model_symbol_timeframe_created_at", "symbol", "timeframe", "created_at"),
    )
