"""Copilot alerts: the rules users define, and the alerts they raised.

An alert is stored once per rule and subject: per bar for the rules evaluated on bars (the
unique `(rule_id, bar_opened_at)`), per job for `job_failed` rules (`(rule_id, job_id)`).
PostgreSQL treats NULLs as distinct, so each constraint binds only the alerts it is about, and
an evaluation run twice over the same bars (a redelivered task, a re-import) adds nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from velocitas.db.models.base import Base

RULE_KINDS = ("signal", "regime", "cross", "sentiment", "job_failed")
DELIVERY_STATES = ("pending", "delivered", "failed")


class AlertRule(Base):
    """A condition a user wants to hear about. `spec` is the validated rule
    (`velocitas.research.alert_rules`); `symbol` and `timeframe` repeat it for the bar rules,
    so an import finds the rules of its series through one index."""

    __tablename__ = "alert_rule"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in RULE_KINDS)})", name="kind"),
        Index("ix_alert_rule_series", "symbol", "timeframe"),
        Index("ix_alert_rule_owner_created", "owner_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    symbol: Mapped[str | None] = mapped_column(String(32))
    timeframe: Mapped[str | None] = mapped_column(String(8))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Alert(Base):
    """One firing of a rule: what happened (`message`, `details`), about which bar or job,
    whether its owner acknowledged it, and how its webhook delivery went."""

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("rule_id", "bar_opened_at", name="uq_alert_rule_bar"),
        UniqueConstraint("rule_id", "job_id", name="uq_alert_rule_job"),
        CheckConstraint(
            f"delivery IN ({', '.join(repr(s) for s in DELIVERY_STATES)})", name="delivery"
        ),
        Index("ix_alert_owner_raised", "owner_id", "raised_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert_rule.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    symbol: Mapped[str | None] = mapped_column(String(32))
    timeframe: Mapped[str | None] = mapped_column(String(8))
    bar_opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivery: Mapped[str | None] = mapped_column(String(16))
    """None without a webhook; else `pending`, then `delivered` or `failed` (attempts spent)."""
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivery_error: Mapped[str | None] = mapped_column(Text)
