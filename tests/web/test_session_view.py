"""The session view's controls against the real sessions API (no trader runs here, so no
price moves: the streaming view's end-to-end test needs the trader and the stream): create and
start a session from the form, place a manual order from the ticket, kill the session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.gateway.conftest import store_bars
from tests.web.conftest import Account, check_view, sign_in


@pytest.mark.slow
def test_session_created_ordered_and_killed_from_the_page(
    page: Any, make_account: Callable[..., Account]
) -> None:
    alice = make_account("alice")
    store_bars(n=200)
    sign_in(page, alice.key)
    page.get_by_role("link", name="Sessions").click()
    page.get_by_text("No sessions yet").wait_for()
    page.locator("#ss-strategy").select_option("sma_cross")
    page.locator("#ss-name").fill("web smoke")
    page.get_by_role("button", name="Create session").click()
    state = page.locator("#session-state")
    state.wait_for()
    assert state.get_attribute("data-state") == "running"

    page.locator("#ot-quantity").fill("0.5")
    page.get_by_role("button", name="Place order").click()
    placed = page.locator("#ticket-result [data-status]")
    placed.wait_for()
    assert placed.get_attribute("data-status") == "new"
    page.locator("#ot-type").select_option("limit")
    page.get_by_role("button", name="Place order").click()  # no limit price: the API's 422
    refused = page.locator("#ticket-result").get_by_role("alert")
    refused.wait_for()
    assert "limit" in refused.inner_text()
    check_view(page, "session")

    page.get_by_role("button", name="Kill").click()
    page.locator('#session-state[data-state="killed"]').wait_for()
    page.get_by_role("button", name="Resume").click()  # a killed session cannot resume: 409
    conflict = page.locator("#control-result").get_by_role("alert")
    conflict.wait_for()
    assert "killed" in conflict.inner_text()  # the API names the current state
    check_view(page, "session-killed")
