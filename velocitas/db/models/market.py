"""Market data: OHLCV bars, and the version that tells a cache whether its bars are current."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, DateTime, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from velocitas.db.models.base import Base, Money


class Bar(Base):
    """One OHLCV candle. The primary key's btree also serves newest-first range scans
    (PostgreSQL walks it backwards), so no second (…, opened_at DESC) index is kept:
    it would only double the write cost of every import."""

    __tablename__ = "bar"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(8), primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    open: Mapped[Decimal] = mapped_column(Money)
    high: Mapped[Decimal] = mapped_column(Money)
    low: Mapped[Decimal] = mapped_column(Money)
    close: Mapped[Decimal] = mapped_column(Money)
    volume: Mapped[Decimal] = mapped_column(Money)


class BarDataVersion(Base):
    """A single row whose `version` a trigger bumps on every statement that writes `bar`
    (INSERT, UPDATE, DELETE, TRUNCATE, whoever runs it), in the writer's own transaction. A
    process holding bars in memory compares it with the version it read them under: equal
    means no bar has changed since (`velocitas.db.bar_cache`)."""

    __tablename__ = "bar_data_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=1)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
