"""What the browser tests share: Playwright for a module, Chromium with a fresh profile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Playwright, sync_playwright

from tests.helpers.browser import chromium_or_fail


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright for one module (its sync API keeps an event loop running while it is open)."""
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Chromium with a fresh profile, for one module (as its Playwright)."""
    context = chromium_or_fail(playwright, tmp_path_factory.mktemp("chromium-profile"))
    yield context
    context.close()
