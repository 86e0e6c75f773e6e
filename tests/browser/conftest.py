"""What the browser tests share: Playwright for a module, Chromium with a fresh profile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Playwright, sync_playwright

from tests.helpers.browser import LiveError, launch_chromium


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright for one module (its sync API keeps an event loop running while it is open)."""
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Chromium with a fresh profile. Module-scoped: Playwright's sync API keeps an event loop running, which
    must be gone before other modules' async tests run."""
    with sync_playwright() as playwright:
        try:
            context = launch_chromium(playwright, tmp_path_factory.mktemp("chromium-profile"))
        except LiveError as exc:
            pytest.fail(str(exc))
        yield context
        context.close()
