"""What a backtest returns: fills, trades, rejections, the equity curve, P&L breakdown, hash.

Fills, trades and rejections are the domain's own types (`velocitas.domain`); the rest is the
engine's.
Money is Decimal, computed by `velocitas.engine.ledger` from the fills; the equity curve is the
kernel's float64 mark-to-market at every bar's close. `to_dict()` is JSON-ready (Decimal → str,
instants → ISO-8601 UTC). `result_hash` is a sha256 over a canonical serialisation of everything
but the metrics, so the same inputs give the same hash in any process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from velocitas.domain.fills import Fill
from velocitas.domain.rejections import Rejection
from velocitas.domain.trades import Trade
from velocitas.domain.wire import decimal_text
from velocitas.engine.records import FillRecords, RejectionRecords

__all__ = [
    "BacktestResult",
    "Breakdown",
    "EquityCurve",
    "PnlSummary",
]


@dataclass(slots=True)
class PnlSummary:
    """Closed-trade totals of one slice of the run (a leg, a symbol, a strategy, everything)."""

    trades: int = 0
    gross_pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    net_pnl: Decimal = Decimal(0)

    def add(self, trade: Trade) -> None:
        self.trades += 1
        self.gross_pnl += trade.gross_pnl
        self.fees += trade.fees
        self.net_pnl += trade.net_pnl

    def to_dict(self) -> dict[str, Any]:
        return {
            "trades": self.trades,
            "gross_pnl": decimal_text(self.gross_pnl),
            "fees": decimal_text(self.fees),
            "net_pnl": decimal_text(self.net_pnl),
        }


@dataclass(frozen=True, slots=True)
class Breakdown:
    """P&L per leg (by index), per symbol, per strategy name, and overall."""

    by_leg: dict[int, PnlSummary]
    by_symbol: dict[str, PnlSummary]
    by_strategy: dict[str, PnlSummary]
    overall: PnlSummary

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_leg": {str(k): v.to_dict() for k, v in self.by_leg.items()},
            "by_symbol": {k: v.to_dict() for k, v in self.by_symbol.items()},
            "by_strategy": {k: v.to_dict() for k, v in self.by_strategy.items()},
            "overall": self.overall.to_dict(),
        }


@dataclass(frozen=True, slots=True, eq=False)
class EquityCurve:
    """Account equity marked at every bar's close (float64), on the run's time grid."""

    opened_at: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.equity)

    def digest(self) -> str:
        """sha256 of the exact bytes of both arrays (little-endian)."""
        h = hashlib.sha256()
        # The arrays' own buffers when they already are little-endian and contiguous: no copy.
        h.update(np.ascontiguousarray(self.opened_at, dtype="<i8").data)
        h.update(np.ascontiguousarray(self.equity, dtype="<f8").data)
        return h.hexdigest()

    def to_dict(self) -> dict[str, Any]:
        stamps = np.datetime_as_string(self.opened_at.astype("datetime64[ns]"), unit="s")
        return {"opened_at": [f"{s}Z" for s in stamps], "equity": self.equity.tolist()}


@dataclass(frozen=True, slots=True, eq=False)
class BacktestResult:
    """Everything one backtest produced. Build it with `velocitas.engine.run_backtest`."""

    initial_cash: Decimal
    final_equity: Decimal
    trades: Sequence[Trade]
    """Closed round trips in exit order (from the exact ledger: built on first use)."""
    fills: Sequence[Fill]
    rejections: Sequence[Rejection]
    equity: EquityCurve
    breakdown: Breakdown
    engine_version: str
    metrics: dict[str, float | int | str | None] = field(default_factory=dict)
    result_hash: str = ""
    warnings: tuple[str, ...] = ()
    """What a reader should know before trusting the figures (a run shorter than a warm-up)."""

    def canonical_hash(self) -> str:
        """sha256 over a canonical serialisation (metrics and the hash itself excluded).

        Fills carry everything trades are made of (trades pair them), and bar indices with the
        equity digest (which covers every bar's time) pin each event in time.
        """
        h = hashlib.sha256()
        header = {
            "engine_version": self.engine_version,
            "initial_cash": decimal_text(self.initial_cash),
            "final_equity": decimal_text(self.final_equity),
            "breakdown": self.breakdown.to_dict(),
            "equity_sha256": self.equity.digest(),
            "bars": len(self.equity),
            "trades": len(self.trades),
        }
        h.update(orjson.dumps(header, option=orjson.OPT_SORT_KEYS))
        if isinstance(self.fills, FillRecords):  # the same bytes, written without Decimals
            h.update(self.fills.hash_lines().data)
        else:
            self._hash_fills(h)
        if isinstance(self.rejections, RejectionRecords):
            h.update(self.rejections.hash_lines().data)
        else:
            for r in self.rejections:
                h.update(
                    f"\nR{r.leg},{r.symbol},{r.bar_index},{r.side},{r.quantity},{r.reason}".encode()
                )
        return h.hexdigest()

    def _hash_fills(self, h: Any) -> None:
        for f in self.fills:
            h.update(
                f"\nF{f.leg},{f.symbol},{f.bar_index},{f.side},{f.quantity},{f.price},"
                f"{f.fee},{f.reason}".encode()
            )

    def to_dict(
        self, *, include_equity: bool = True, include_ledger: bool = True
    ) -> dict[str, Any]:
        """JSON-ready dict; `include_equity=False` leaves out the (long) equity arrays,
        `include_ledger=False` the trades and fills."""
        out: dict[str, Any] = {
            "engine_version": self.engine_version,
            "result_hash": self.result_hash,
            "initial_cash": decimal_text(self.initial_cash),
            "final_equity": decimal_text(self.final_equity),
            "metrics": self.metrics,
            "warnings": list(self.warnings),
            "breakdown": self.breakdown.to_dict(),
        }
        if include_ledger:
            out["trades"] = [t.to_dict() for t in self.trades]
            out["fills"] = [f.to_dict() for f in self.fills]
        out["rejections"] = [r.to_dict() for r in self.rejections]
        if include_equity:
            out["equity"] = self.equity.to_dict()
        return out
