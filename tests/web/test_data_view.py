"""Signing in, and the data view: stored series and a CSV upload whose bad row is shown next to
the file, as the API words it; in Chromium against a real gateway."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import PHONE, Account, check_view, sign_in, wider_than_the_screen
from velocitas.domain.roles import Role

GOOD = "2024-01-01T00:00:00Z,100,101,99,100.5,10\n2024-01-01T01:00:00Z,100.5,102,100,101,12\n"
BAD_ROW = "2024-01-01T02:00:00Z,101,100,102,101,-3\n"  # high under low, negative volume


@pytest.mark.slow
def test_sign_in_refuses_a_bad_key_with_the_api_words(page: Any) -> None:
    page.goto("/")
    check_view(page, "sign-in")
    page.get_by_label("API key").fill("vk_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "missing or invalid API key" in alert.inner_text()
    assert page.get_by_role("navigation", name="Views").is_hidden()


@pytest.mark.slow
def test_upload_shows_the_bad_row_next_to_the_file_then_stores_a_good_one(
    page: Any, make_account: Callable[..., Account], tmp_path: Path
) -> None:
    writer = make_account("writer", Role.DATA_WRITER)
    sign_in(page, writer.key)
    page.get_by_role("link", name="Data").click()
    page.get_by_text("No bars stored yet").wait_for()
    check_view(page, "data-empty")

    bad = tmp_path / "bad.csv"
    bad.write_text("opened_at,open,high,low,close,volume\n" + GOOD + BAD_ROW)
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_label("Symbol").fill("TESTUSD")
    page.get_by_role("button", name="Upload").click()
    result = page.locator("#upload-result")
    result.get_by_role("alert").wait_for()
    assert "invalid row(s); nothing was stored" in result.get_by_role("alert").inner_text()
    rows = result.locator("tbody tr")
    assert rows.count() >= 1
    first = rows.first.locator("td").all_inner_texts()
    assert first[0] == "3"  # the third data row, as the API numbers it
    check_view(page, "data-upload-error")

    good = tmp_path / "good.csv"
    good.write_text("opened_at,open,high,low,close,volume\n" + GOOD)
    page.get_by_label("CSV file").set_input_files(str(good))
    page.get_by_role("button", name="Upload").click()
    page.locator("#upload-result .ok").wait_for()
    page.get_by_role("cell", name="TESTUSD").wait_for()  # the series list was read again
    series = page.locator("table").first.locator("tbody tr td").all_inner_texts()
    assert series[:2] == ["TESTUSD", "1h"]
    assert series[4] == "2"  # bars
    check_view(page, "data")
    page.set_viewport_size(PHONE)
    assert wider_than_the_screen(page) == []
