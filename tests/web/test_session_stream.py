"""The session view streaming, in Chromium against a real gateway and a real trader: start a
replay, see the price move on the chart and the journal fill, place an order and see the risk
guard's refusal in its words, see the position and the P&L move, kill the session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import store_bars
from tests.support.waiting import wait_until
from tests.trader.process import TraderProcess
from tests.web.conftest import Account, check_view, sign_in

pytestmark = pytest.mark.slow


@pytest.fixture
def trader(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[TraderProcess]:
    """A real trader running the real session engine, publishing on this test's Redis."""
    process = TraderProcess(
        database_url, "web-1", tmp_path, TRADER_RUNNER="trader.run:run_session",
        REDIS_URL=redis_url,
    )  # fmt: skip
    process.start()
    yield process
    process.stop()


def test_a_replay_streams_to_the_page_with_positions_pnl_and_the_guards_refusal(
    page: Any, make_account: Callable[..., Account], trader: TraderProcess
) -> None:
    alice = make_account("alice")
    store_bars(n=200)
    sign_in(page, alice.key)
    page.get_by_role("link", name="Sessions").click()
    page.get_by_text("No sessions yet").wait_for()
    page.locator("#ss-strategy").select_option("buy_and_hold")
    page.locator("#ss-speed").select_option("3600")  # an hourly bar a second
    page.get_by_role("button", name="Create session").click()
    chart = page.locator("#session-chart")
    page.locator("#session-chart[data-ticks]").wait_for(state="attached", timeout=120_000)
    first = chart.get_attribute("data-last-price")
    # The price moves (polled from here: the page's CSP refuses Playwright's in-page polling).
    wait_until(lambda: chart.get_attribute("data-last-price") != first, 60, "the price moved")
    page.locator("#journal li[data-type='bar.closed']").first.wait_for()

    # Once buy_and_hold holds all the cash (its entry fills at the second bar's open), the risk
    # guard refuses a manual buy, and the ticket says why in the guard's words; the strategy's
    # position and the P&L are on the page.
    positions = page.get_by_role("region", name="Positions")
    positions.get_by_role("cell", name="long").wait_for()
    page.locator("#ot-quantity").fill("1")
    page.get_by_role("button", name="Place order").click()
    rejected = page.locator("#ticket-result [data-status='rejected']")
    rejected.wait_for(timeout=60_000)
    assert "insufficient funds" in rejected.inner_text()
    equity = page.locator("#equity")
    before = equity.inner_text()
    wait_until(lambda: equity.inner_text() != before, 60, "the P&L moved with the price")
    check_view(page, "session-streaming")

    page.get_by_role("button", name="Kill").click()
    page.locator('#session-state[data-state="killed"]').wait_for(timeout=60_000)
