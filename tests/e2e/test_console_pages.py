"""Every page of the console, in Chinese and English, as docs/console.md shows it: each
test opens one page, checks what it is about, and takes its screenshot (screenshots.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LOCALES, open_page
from tests.e2e.screenshots import shoot
from tests.support.live_app import LiveApp
from tests.support.seed import LIVING_ROOM

HEADINGS = {
    "zh": {"search": "搜索", "users": "用户", "audit": "审计日志", "login": "登录"},
    "en": {"search": "Search", "users": "Users", "audit": "Audit trail", "login": "Sign in"},
}


def heading(page: Page, key: str) -> str:
    return HEADINGS[page.lang][key]  # type: ignore[attr-defined]


def go(page: Page, route: str) -> None:
    page.goto(page.url.split("#")[0] + route)


@pytest.mark.parametrize("lang", list(LOCALES))
def test_the_sign_in_page(browser: Browser, console: LiveApp, lang: str) -> None:
    page = open_page(browser, console, locale=LOCALES[lang])
    expect(page.locator("form.login h1")).to_have_text(HEADINGS[lang]["login"])
    shoot(page, "login")
    page.context.close()


def test_a_devices_page_lists_its_sessions(lang_page: Page) -> None:
    go(lang_page, f"#/device/{LIVING_ROOM}")
    expect(lang_page.locator("main a[href^='#/session/']")).to_have_count(2)
    shoot(lang_page, "device")


def test_a_conversation(lang_page: Page) -> None:
    go(lang_page, "#/session/s-weather")
    expect(lang_page.locator("h1")).to_have_text("深圳天气")
    # The question, then one reply: its tool call and result folded inside, then the answer.
    expect(lang_page.locator(".bubble.user")).to_have_count(1)
    expect(lang_page.locator(".bubble.reply")).to_have_count(1)
    expect(lang_page.locator(".bubble.reply details.tool-part")).to_have_count(2)
    shoot(lang_page, "session", full_page=True)


def test_search_results_highlight_the_words(lang_page: Page) -> None:
    go(lang_page, "#/search/q=天气")
    expect(lang_page.locator("h1")).to_have_text(heading(lang_page, "search"))
    expect(lang_page.locator(".results mark").first).to_have_text("天气")
    shoot(lang_page, "search")


def test_the_users_page(lang_page: Page) -> None:
    go(lang_page, "#/users")
    expect(lang_page.locator("h1")).to_have_text(heading(lang_page, "users"))
    expect(lang_page.locator("tr[data-username='admin']")).to_be_visible()
    shoot(lang_page, "users")


def test_the_audit_trail(lang_page: Page) -> None:
    go(lang_page, "#/audit")
    expect(lang_page.locator("h1")).to_have_text(heading(lang_page, "audit"))
    expect(lang_page.locator("tr[data-action='sign_in']").first).to_be_visible()
    shoot(lang_page, "audit")
