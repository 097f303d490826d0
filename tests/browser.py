"""Debian's chromium driven by Playwright, for the tests of web pages; screenshots as artefacts.

Without chromium the importing module is skipped, unless MJ_REQUIRE_BROWSER is set (CI),
where a missing browser is a failure. Screenshots go to MJ_TEST_ARTEFACTS (default: a
`screenshots` folder in pytest's temporary directory).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AVAILABLE = os.path.exists(CHROMIUM)


def require_chromium() -> None:
    """Skip the calling test module when chromium is missing (fails instead in CI)."""
    if not AVAILABLE and not os.environ.get("MJ_REQUIRE_BROWSER"):
        pytest.skip(
            "chromium is not installed (apt-get install chromium); CI installs it",
            allow_module_level=True,
        )


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots of page states go (kept as test artefacts)."""
    configured = os.environ.get("MJ_TEST_ARTEFACTS")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class PageErrors:
    """Collects the page's uncaught errors and console errors; tests assert there are none.

    `expected`: console messages containing one of these are not errors (a server restarting
    refuses the page's reconnection attempts, say).
    """

    def __init__(self, page: Any, expected: tuple[str, ...] = ()) -> None:
        self.expected = expected
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        # A refused request (400) is logged by the browser: expected in tests of refusals.
        expected = ("status of 400", *self.expected)
        if message.type == "error" and not any(text in message.text for text in expected):
            self.errors.append(f"console: {message.text}")


async def screenshot(page: Any, folder: Path, name: str) -> Path:
    path = folder / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    await page.screenshot(path=str(path))
    return path
