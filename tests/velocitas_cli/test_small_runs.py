"""`velocitas_cli.small_runs`: which `backtest run` command lines count as small. The mode switch
itself is checked in fresh interpreters (tests/velocitas_cli/test_import_graph.py)."""

from __future__ import annotations

import pytest

from velocitas import jit
from velocitas_cli.small_runs import _stored_rows, leg_symbols, prefer_plain_python


def test_leg_symbols_reads_every_spelling_of_a_leg() -> None:
    args = ["--symbol", "AAA", "--timeframe", "1d", "--leg", "BBB:rsi_reversion:period=9",
            "--leg=CCC:sma_cross", "--symbol=DDD", "--strategy", "sma_cross"]  # fmt: skip
    assert leg_symbols(args) == ["AAA", "BBB", "CCC", "DDD"]


def test_leg_symbols_ignores_an_option_without_its_value() -> None:
    assert leg_symbols(["--timeframe", "1d", "--symbol"]) == []
    assert leg_symbols(["--symbol="]) == []


def test_stored_rows_counts_up_to_the_limit(goog: str) -> None:
    assert _stored_rows(["GOOG"], 1_000_000) == 2_148
    assert _stored_rows(["GOOG"], 100) == 100
    assert _stored_rows(["GOOG", "NONE"], 1_000_000) == 2_148
    assert _stored_rows(["NONE"], 10) == 0


def test_a_database_that_cannot_be_asked_keeps_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    from velocitas.settings import get_settings

    get_settings.cache_clear()
    try:
        assert _stored_rows(["GOOG"], 10) == 10
    finally:
        get_settings.cache_clear()


def test_the_users_choice_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(jit.JIT_ENV, "numba")
    assert prefer_plain_python(["--symbol", "GOOG"]) is False
    monkeypatch.delenv(jit.JIT_ENV)
    assert prefer_plain_python([]) is False  # no symbol: nothing to count


def test_help_asks_no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(jit.JIT_ENV, raising=False)

    def refuse(symbols: list[str], limit: int) -> int:
        raise AssertionError("--help must not count stored rows")

    monkeypatch.setattr("velocitas_cli.small_runs._stored_rows", refuse)
    assert prefer_plain_python(["--symbol", "GOOG", "--help"]) is False
