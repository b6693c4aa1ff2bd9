"""velocitas_cli.demo_session: the demo's replay step streams ticks, fills the manual order and
agrees with the backtest."""

from __future__ import annotations

from velocitas_cli.demo_session import replay_session


def test_replay_session_streams_trades_and_agrees_with_the_backtest() -> None:
    lines: list[str] = []
    outcome = replay_session("SYN", 3000, 7, lines.append)
    assert outcome["parity"] is True
    assert outcome["fills"] > 0
    assert outcome["ticks_published"] == 30
    assert any("demo-1: order.filled" in line for line in lines)
    assert any(line.strip().startswith("manual book SYN") for line in lines)
