"""The web app in a real browser: Debian's Chromium driven by Playwright, against a real
gateway (uvicorn) on this test's database and Redis, with a real Celery worker when asked.

Every page records its console: a test fails on any console error or uncaught exception. Each
view can be checked with axe-core (vendored for tests: tests/web/vendor) and photographed into
`test-artifacts/web/` (git-ignored).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import Account, make_account, platform_env, workers
from tests.support.ports import free_port
from tests.support.processes import REPO, python_env, running, uvicorn, wait_for_http

__all__ = ["Account", "make_account", "platform_env", "workers"]  # fixtures shared with gateway

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "web"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.fail(
            "the browser tests need Chromium from Debian's packages: apt-get install chromium "
            "(scripts/test installs it when run as root)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield launched
        launched.close()


@pytest.fixture
def gateway(platform_env: str, database_url: str, redis_url: str, tmp_path: Path) -> Iterator[str]:
    """A real gateway on this test's database, Redis and job queue; its base URL."""
    port = free_port()
    env = python_env(
        {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "VELOCITAS_JOBS_QUEUE": platform_env}
    )
    argv = uvicorn("gateway.main:app", port, "--log-level", "warning")
    with running(argv, env, tmp_path / "gateway.log", stop_timeout=10) as process:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health", process, timeout=90)
        yield base


# Chromium logs every 4xx answer to `fetch` as a console error; the app shows those answers to
# the user on purpose (a refused key, a bad row), so they are not the app's errors. Script
# errors, uncaught exceptions and 5xx answers are.
_ANSWERED = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d")


@dataclass
class Console:
    """What the page said on its console that a user would call an error."""

    errors: list[str] = field(default_factory=list)

    def record(self, message: Any) -> None:
        if message.type == "error" and not _ANSWERED.match(message.text):
            self.errors.append(message.text)


@pytest.fixture
def page(browser: Any, gateway: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh 1280x800 tab on the gateway; fails the test on any console error. Its last
    state is photographed as `last-<test>.png`, for a failing test's report."""
    context = browser.new_context(viewport=DESKTOP, base_url=gateway)
    tab = context.new_page()
    console = Console()
    tab.on("console", console.record)
    tab.on("pageerror", lambda e: console.errors.append(str(e)))
    yield tab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"last-{request.node.name}.png"), full_page=True)
    context.close()
    assert console.errors == [], "the page logged errors"


def sign_in(page: Any, key: str) -> None:
    page.goto("/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Views").wait_for()


def check_view(page: Any, name: str) -> None:
    """Photograph the view and check it with axe-core: no serious or critical violation."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())  # evaluated, not a <script>: the page's CSP stays on
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    bad = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{name}: {json.dumps(bad, indent=1)}"


def wider_than_the_screen(page: Any) -> list[str]:
    """Elements reaching past the viewport's right edge (tables scroll inside their own box,
    so none should): empty when the page needs no horizontal scrolling."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('body *')]
              .filter((e) => !e.closest('.table-wrap, .chart'))
              .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
              .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`)
              .slice(0, 10)"""
        )
    )
