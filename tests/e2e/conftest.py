"""Real Chromium (Debian's) driven by Playwright against the app on a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.core_client import SECRET
from tests.support.live_app import LiveApp, serving
from tests.support.seed import seed
from tests.support.servers import require_binary
from xiaozhi_server.config import Settings

# Flags for a closed network: nothing in the background tries to reach the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API runs an event loop in this thread while it is
    # open, which would break every asyncio test that came after it.
    executable = require_binary("chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('console') / 'store.db'}"
    # Playwright's sync API keeps an event loop in this thread: seed from another one.
    with ThreadPoolExecutor(1) as worker:
        worker.submit(asyncio.run, seed(url)).result()
    settings = Settings.model_validate(
        {
            "storage": {"url": url},
            "auth": {"admin_password": "console-pw", "report_secret": SECRET, "api_tokens": ["t"]},
        }
    )
    with serving(settings) as app:
        yield app


def open_page(browser: Browser, console: LiveApp, locale: str = "zh-CN", **options: object) -> Page:
    context = browser.new_context(locale=locale, **options)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(console.base_url + "/")
    return page


def sign_in(page: Page) -> None:
    page.fill("#username", "admin")
    page.fill("#password", "console-pw")
    page.click("form.login button[type=submit]")
    page.wait_for_selector("table.devices")


@pytest.fixture
def page(browser: Browser, console: LiveApp) -> Iterator[Page]:
    opened = open_page(browser, console)
    sign_in(opened)
    yield opened
    opened.context.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    return tmp_path


# The browser's language picks the console's: each test using ``lang_page`` runs in both.
LOCALES = {"zh": "zh-CN", "en": "en-US"}


@pytest.fixture(params=list(LOCALES))
def lang_page(request: pytest.FixtureRequest, browser: Browser, console: LiveApp) -> Iterator[Page]:
    """A signed-in page in Chinese, then (the next run) in English; ``page.lang`` says which."""
    opened = open_page(browser, console, locale=LOCALES[request.param])
    sign_in(opened)
    opened.lang = request.param  # type: ignore[attr-defined]
    yield opened
    opened.context.close()
