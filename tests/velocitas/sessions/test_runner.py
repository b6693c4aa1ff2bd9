"""velocitas.sessions.runner: kills (the drawdown kill switch, a manual kill) flatten the legs
and the manual book and say why; a killed session accepts no new risk."""

from __future__ import annotations

import uuid
from decimal import Decimal

from velocitas.domain.session_events import RiskEvent, TradeEvent
from velocitas.sessions.oms import ManualOrder
from velocitas.sessions.runner import SessionRunner

from .market import gbm_bars, session_spec


def _runner(**overrides: object) -> SessionRunner:
    bars = {"AAA": gbm_bars(3000, seed=5, symbol="AAA")}
    spec = session_spec([("AAA", "sma_cross", {"fast": 5, "slow": 20})], **overrides)
    return SessionRunner(uuid.uuid4(), spec, bars)


def _buy(quantity: str = "1") -> ManualOrder:
    return ManualOrder(uuid.uuid4(), "AAA", "buy", "market", Decimal(quantity))


def test_the_drawdown_kill_switch_flattens_the_manual_book_too() -> None:
    runner = _runner(risk={"max_drawdown": "0.01"})
    events = runner.step(5, [_buy()])
    events += runner.step(runner.n - 1)
    killed = [e for e in events if isinstance(e, RiskEvent) and e.type == "risk.killed"]
    assert [e.rule for e in killed] == ["max_drawdown"]
    manual = [e for e in events if isinstance(e, TradeEvent) and e.leg is None]
    assert [e.reason for e in manual] == ["manual", "kill_switch"]
    assert runner.oms.books["AAA"].quantity == 0
    late = runner.oms.submit(_buy(), 100.0, runner.account(), killed[0].at)
    assert late[0].type == "order.rejected"
    assert late[1].rule == "kill_switch"


def test_a_manual_kill_flattens_every_position_at_the_next_open() -> None:
    runner = _runner()
    runner.step(10, [_buy()])
    while not any(runner.legs.position[:, 0]):  # until the strategy leg holds a position
        runner.step(runner.next_bar)
    t = runner.next_bar
    events = runner.kill("stop everything")
    fills = [e for e in events if isinstance(e, TradeEvent)]
    assert {e.leg for e in fills} == {0, None}
    assert all(e.reason == "kill_switch" for e in fills)
    opened = runner.legs.grid.opened_at[t].item() // 1000
    assert all(int(e.at.timestamp()) * 1_000_000 == opened for e in fills)
    assert not any(runner.legs.position[:, 0])
    assert runner.oms.books["AAA"].quantity == 0
    assert events[-1].type == "risk.killed"
