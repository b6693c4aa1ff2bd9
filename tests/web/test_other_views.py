"""The views without a worker behind them: walk-forwards (empty), models (the registry, promote
refused to a user in the API's words), news, and the dark theme; each checked by axe-core."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.gateway.conftest import register_model_row, store_bars
from tests.web.conftest import Account, check_view, sign_in


@pytest.mark.slow
def test_walk_forwards_models_news_views_and_the_dark_theme(
    page: Any, make_account: Callable[..., Account]
) -> None:
    alice = make_account("alice")
    store_bars(n=48)
    register_model_row("SYN-1h-v1")
    sign_in(page, alice.key)
    page.locator("#bt-strategy").wait_for()

    # Keyboard: the first Tab reaches the skip link, the next ones the views' links, and Enter
    # on one opens its view.
    page.reload()  # focus starts at the document, as for a user arriving on the page
    page.locator("#bt-strategy").wait_for()
    focused = []
    for _ in range(4):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert focused == ["Skip to content", "Data", "Backtests", "Sweeps"]
    page.keyboard.press("Enter")
    page.get_by_text("No sweeps yet").wait_for()

    page.get_by_role("link", name="Walk-forwards").click()
    page.get_by_text("No walk-forwards yet").wait_for()
    assert page.locator("#wf-in").input_value() == "30d"
    check_view(page, "walk-forwards")

    page.get_by_role("link", name="Models").click()
    page.get_by_role("cell", name="SYN-1h-v1", exact=True).wait_for()
    page.get_by_role("button", name="Promote SYN-1h-v1").click()
    refusal = page.get_by_role("alert")
    refusal.wait_for()
    assert "admin" in refusal.inner_text()  # 403, as the API words it
    check_view(page, "models")

    page.get_by_role("link", name="News").click()
    page.locator("#nw-series").wait_for()
    assert page.locator("#nw-series option").first.inner_text() == "BTCUSDT 1h"
    check_view(page, "news")

    page.emulate_media(color_scheme="dark")  # the system's dark setting: contrast checked again
    page.get_by_role("link", name="Backtests").click()
    page.locator("#bt-strategy").wait_for()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 20, 24)"
    check_view(page, "backtests-dark")
