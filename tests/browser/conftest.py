"""Fixtures for the browser tests: Debian's Chromium, driven by Playwright, against the real
webmail served by uvicorn on a real socket (the same ``LiveServer`` as tests/web).

Playwright's own browser download is not used: the tests launch the system Chromium
(``$TIDINGS_CHROMIUM``, default /usr/bin/chromium). Without it the tests are skipped, except
under CI, where that is an error. Every test may save screenshots with ``shot``; they go to
``$TIDINGS_TEST_OUTPUT`` (default ``test-output/``) under ``browser/``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import PASSWORD, LiveServer

CHROMIUM = os.environ.get("TIDINGS_CHROMIUM", "/usr/bin/chromium")
OUTPUT = Path(os.environ.get("TIDINGS_TEST_OUTPUT", "test-output")) / "browser"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

Shot = Callable[[Page, str], Awaitable[Path]]


def _chromium_or_skip() -> str:
    found = shutil.which(CHROMIUM)
    if found:
        return found
    message = (f"Chromium not found at {CHROMIUM} (Debian packages chromium and "
               "chromium-driver; or set TIDINGS_CHROMIUM)")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = _chromium_or_skip()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        await launched.close()


@pytest.fixture
async def live(store: Store) -> AsyncIterator[LiveServer]:
    server = LiveServer(store)
    await server.start()
    yield server
    await server.stop()


async def new_page(browser: Browser, live: LiveServer, *, phone: bool = False) -> Page:
    """A fresh browser context (no cookies) on the live server, desktop- or phone-sized."""
    context = await browser.new_context(
        base_url=live.url, viewport=PHONE if phone else DESKTOP,
        is_mobile=phone, has_touch=phone)
    context.set_default_timeout(10_000)
    return await context.new_page()


async def sign_in(page: Page, address: str = "ann@example.com",
                  password: str = PASSWORD) -> None:
    """Log in through the form, as a person would, and wait for the mail page."""
    await page.goto("/login")
    await page.get_by_label(re.compile("address", re.I)).fill(address)
    await page.get_by_label(re.compile("password", re.I)).fill(password)
    await page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()
    await page.wait_for_url(re.compile(r"/mail"))


@pytest.fixture
async def page(browser: Browser, live: LiveServer, account: AccountInfo) -> Page:
    """A desktop-sized page signed in as ann@example.com."""
    opened = await new_page(browser, live)
    await sign_in(opened)
    return opened


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shot:
    """Save a full-page screenshot named after the test (and its backend) and ``name``."""
    folder = OUTPUT / re.sub(r"[^\w.-]+", "_", request.node.name)

    async def take(page: Page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path

    return take
