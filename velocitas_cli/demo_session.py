"""The demo's trading-session step: replay the sample data as a stream and trade it.

A replay of the demo's synthetic bars (the very bars it stored: same generator, same seed) at a
million times real time, with one SMA-cross leg and one manual market order with a trailing
stop. It runs in-process through the session engine (`velocitas.sessions.runner`) with a
`RecordingPublisher`, printing the first tick batches, the manual order's life and the final
P&L per leg, and checks the strategy leg against the backtest of the same spec (parity).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from velocitas.domain.bars import BarArrays
from velocitas.domain.session_events import OrderEvent, TradeEvent, parse_session_event
from velocitas.domain.timeframe import Timeframe
from velocitas.engine.ledger import price_decimal
from velocitas.engine.runner import run_backtest
from velocitas.sessions.oms import ManualOrder
from velocitas.sessions.publisher import RecordingPublisher
from velocitas.sessions.runner import SessionRunner
from velocitas.sessions.spec import SessionSpec
from velocitas.synth import DEFAULT_START, synth_bars

__all__ = ["replay_session"]

SHOWN_BATCHES = 3
QUIET = frozenset({"bar.closed", "bars.closed", "signal"})


def _sample_bars(count: int, symbol: str, seed: int) -> BarArrays:
    table = synth_bars(count, Timeframe.M1, seed=seed)
    opened = [
        int(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()) * 1_000_000_000
        for t in table["opened_at"].to_pylist()
    ]
    columns = [
        np.asarray([float(x) for x in table[c].to_pylist()])
        for c in ("open", "high", "low", "close", "volume")
    ]
    return BarArrays(symbol, "1m", np.asarray(opened, dtype=np.int64), *columns)


def replay_session(
    symbol: str, count: int, seed: int, say: Callable[[str], None]
) -> dict[str, Any]:
    """Replay `count` sample bars of `symbol` (generator seed `seed`); returns the outcome."""
    bars = {symbol: _sample_bars(count, symbol, seed)}
    spec = SessionSpec.model_validate({
        "name": "demo replay", "timeframe": "1m", "start": DEFAULT_START,
        "end": DEFAULT_START + timedelta(minutes=count),
        "legs": [{"symbol": symbol, "strategy": {"name": "sma_cross",
                                                 "params": {"fast": 10, "slow": 50}}}],
        "initial_cash": "100000", "fees": {"rate": "0.001"}, "slippage_bps": "2",
        "sizing": {"mode": "fraction_of_equity", "value": "0.5"},
        "stops": {"stop_loss": {"kind": "percent", "value": "0.01"}},
        "speed": 1_000_000, "seed": seed,
    })  # fmt: skip
    runner = SessionRunner(uuid.uuid4(), spec, bars)
    publisher = RecordingPublisher()
    for t in range(SHOWN_BATCHES):  # the first ticks, batched as the WebSocket sends them
        ticks = runner.bar_ticks(t, symbol)
        batch = [(runner.tick_instant(t, k) // 1_000_000, str(price_decimal(float(ticks[k]))))
                 for k in range(spec.tick_batch)]  # fmt: skip
        publisher.ticks(runner.session_id, symbol, batch)
    for _, sym, batch in publisher.tick_batches:
        say(f"   ticks {sym}: {batch[0]} .. {batch[-1]} ({len(batch)} a message)")
    order = ManualOrder(uuid.uuid4(), symbol, "buy", "market", Decimal("0.5"),
                        trailing_stop=Decimal("0.02"), client_order_id="demo-1")  # fmt: skip
    events = runner.step(100, [order])
    rest = runner.step_encoded(runner.n - 1)  # quiet bars as JSON rows: parse the rest only
    events += [parse_session_event(e.json) for e in rest if e.type not in QUIET]
    for event in events:
        if isinstance(event, OrderEvent) and event.origin == "manual":
            say(f"   manual order {event.client_order_id}: {event.type} at {event.at}")
        if isinstance(event, TradeEvent) and event.leg is None:
            say(f"   manual fill: {event.side} {event.quantity} @ {event.price} ({event.reason})")
    pnl = runner.pnl()
    for row in pnl.legs:
        name = f"leg {row.leg} {row.strategy}" if row.leg is not None else "manual book"
        say(f"   {name} {row.symbol}: realised {row.realised:.2f}, unrealised {row.unrealised:.2f}")
    say(f"   equity {pnl.equity:.2f} (cash {pnl.cash:.2f})")
    backtest = run_backtest(spec.backtest_spec(), bars)
    strategy_fills = [e for e in events if isinstance(e, TradeEvent) and e.leg is not None]
    parity = [(f.price, f.fee) for f in strategy_fills] == [
        (f.price, f.fee) for f in backtest.fills
    ]
    say(f"   strategy leg == backtest with the bridge path: {parity}")
    return {
        "ticks_published": sum(len(b[2]) for b in publisher.tick_batches),
        "fills": len(strategy_fills),
        "equity": str(pnl.equity),
        "parity": parity,
    }
